"""Honest evaluation of the sentiment classifier on real review text.

5-fold stratified cross-validation over the 4,140 real stream events of the Factored Datathon
2023 (`../shared/datathon/stream_events_sample.jsonl`), rating labels (1-2 negative, 4-5
positive, 3 excluded). In every outer fold the whole pipeline, vectorizer included, is fitted on
the training folds only, with C chosen by an inner 3-fold CV: nothing of the test fold is seen.
Prints the model's mean and spread beside TextBlob, the majority class and the winning
solution's reported figures (which were computed with an IDF fitted before its split).

    python benchmarks/bench_sentiment_real.py [PATH]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import orjson
import polars as pl
from sklearn.model_selection import StratifiedKFold

from paisa_assets.ml.labels import rating_labels
from paisa_assets.ml.sentiment import LABEL, SentimentConfig, evaluate, train_in_memory
from paisa_assets.ml.text_cleaning import TEXT_COLUMN

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared/datathon/stream_events_sample.jsonl"
WINNER = {"accuracy": 0.658, "f1_macro": 0.657, "roc_auc": 0.701}
METRICS = ("accuracy", "f1_macro", "roc_auc", "pr_auc")


def load(path: Path) -> pl.DataFrame:
    records = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    frame = pl.DataFrame(
        {
            "review_id": [str(i) for i in range(len(records))],
            "review_date": [None] * len(records),
            "rating": [float(r["overall"]) if r.get("overall") else None for r in records],
            TEXT_COLUMN: [
                ". ".join(part for part in (r.get("summary"), r.get("reviewText")) if part)
                for r in records
            ],
        },
        schema_overrides={"review_date": pl.Date},
    )
    labelled = frame.with_columns(rating_labels(frame["rating"]).alias(LABEL))
    return labelled.filter(pl.col(LABEL).is_not_null())


def cross_validate(data: pl.DataFrame, folds: int = 5) -> dict[str, dict[str, list[float]]]:
    """{scorer: {metric: one value per outer fold}} for paisa and both baselines."""
    config = SentimentConfig(min_df=1)
    labels = data[LABEL].to_numpy()
    scores: dict[str, dict[str, list[float]]] = {}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
    for train_index, test_index in splitter.split(np.zeros(data.height), labels):
        model = train_in_memory(data[train_index], config)
        evaluation = evaluate(model, data[test_index])
        reports = {"paisa": evaluation.model, **evaluation.baselines}
        for name, report in reports.items():
            for metric in METRICS:
                scores.setdefault(name, {}).setdefault(metric, []).append(report.metrics[metric])
    return scores


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    if not path.exists():
        sys.exit(f"no real reviews at {path}: pass the path of stream_events_sample.jsonl")
    data = load(path)
    labels = data[LABEL].to_numpy()
    print(
        f"{data.height:,} real reviews with a non-neutral rating "
        f"({int(labels.sum()):,} positive, {int((labels == 0).sum()):,} negative); 5 folds"
    )
    started = time.perf_counter()
    scores = cross_validate(data)
    elapsed = time.perf_counter() - started
    header = f"{'scorer':<22}" + "".join(f"{m:>18}" for m in METRICS)
    print(header)
    print("-" * len(header))
    for name, by_metric in scores.items():
        cells = "".join(
            f"{np.mean(v):>11.3f} ± {np.std(v):.3f}" for v in (by_metric[m] for m in METRICS)
        )
        print(f"{name:<22}{cells}")
    winner = "".join(f"{WINNER[m]:>18.3f}" if m in WINNER else f"{'n/a':>18}" for m in METRICS)
    print(f"{'datathon winner':<22}{winner}   (reported, IDF leaked)")
    print(f"5 outer folds x 3 inner folds in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
