"""Read labelled reviews for the classifier out of gold, in batches, split by time.

Pure given a DuckDB connection on which `gold.reviews_enriched` is registered as `reviews`:
the split, the class counts and the CV sample are computed by DuckDB in streaming fashion, so
only the training split (when it is small enough) or one batch at a time is ever in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from paisa_assets.ml.labels import LabelSource, rating_labels, textblob_labels
from paisa_assets.ml.model_text import TEXT_COLUMN, TEXT_SQL
from paisa_assets.ml.sentiment import (
    LABEL,
    SentimentConfig,
    SentimentEvaluation,
    TrainedModel,
    class_counts,
    evaluate,
    test_size,
    train_in_memory,
    train_incremental,
)

BATCH_ROWS = 50_000
COLUMNS_SQL = f"review_id, review_date, rating, {TEXT_SQL}"


@dataclass(frozen=True)
class TemporalSplit:
    """Reviews at or after (date, review_id) are the test set; everything older trains."""

    cutoff_date: dt.date
    cutoff_review_id: str
    dated_reviews: int
    test_reviews: int

    def test_sql(self) -> str:
        return "(review_date > $d OR (review_date = $d AND review_id >= $id))"

    def train_sql(self) -> str:
        return "(review_date < $d OR (review_date = $d AND review_id < $id))"

    def parameters(self) -> dict[str, object]:
        return {"d": self.cutoff_date, "id": self.cutoff_review_id}


@dataclass
class SentimentRun:
    model: TrainedModel
    evaluation: SentimentEvaluation
    split: TemporalSplit
    test: pl.DataFrame
    neutral_band: NeutralBandReport | None = None


def temporal_split(con: duckdb.DuckDBPyConnection, config: SentimentConfig) -> TemporalSplit:
    """Cut the dated reviews so the newest `test_fraction` (at most `max_test_rows`) are test."""
    (dated,) = con.sql(
        "SELECT count(*) FROM reviews WHERE review_date IS NOT NULL AND review_id IS NOT NULL"
    ).fetchall()[0]
    if dated < 2 * config.cv_folds:
        raise ValueError(
            f"gold.reviews_enriched holds {dated} dated reviews: too few to train and test a "
            f"classifier with {config.cv_folds}-fold cross-validation; ingest more reviews first"
        )
    test_rows = test_size(dated, config)
    cutoff_date, cutoff_id = con.sql(
        "SELECT review_date, review_id FROM reviews "
        "WHERE review_date IS NOT NULL AND review_id IS NOT NULL "
        "ORDER BY review_date DESC, review_id DESC LIMIT 1 OFFSET $skip",
        params={"skip": test_rows - 1},
    ).fetchall()[0]
    return TemporalSplit(cutoff_date, cutoff_id, dated, test_rows)


def label(batch: pl.DataFrame, config: SentimentConfig) -> pl.DataFrame:
    """Attach labels from the configured source and drop the reviews without one."""
    if config.label_source == LabelSource.TEXTBLOB:
        labels = textblob_labels(batch[TEXT_COLUMN].to_list())
    else:
        labels = rating_labels(batch["rating"], config.neutral_rating)
    return batch.with_columns(labels.alias(LABEL)).filter(pl.col(LABEL).is_not_null())


def labelled_batches(
    con: duckdb.DuckDBPyConnection,
    where: str,
    params: dict[str, object],
    config: SentimentConfig,
    sample: str = "",
) -> Iterator[pl.DataFrame]:
    query = (
        f"SELECT {COLUMNS_SQL} FROM reviews WHERE {where} {sample} ORDER BY review_date, review_id"
    )
    reader = con.sql(query, params=params).to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        yield label(pl.from_arrow(batch), config)


def _collect(batches: Iterator[pl.DataFrame]) -> pl.DataFrame:
    frames = list(batches)
    return pl.concat(frames) if frames else pl.DataFrame()


def fit_sentiment(con: duckdb.DuckDBPyConnection, config: SentimentConfig) -> SentimentRun:
    """Split by time, train (in memory or incrementally), evaluate against both baselines."""
    split = temporal_split(con, config)
    params = split.parameters()
    test = _collect(labelled_batches(con, split.test_sql(), params, config))
    train_rows = split.dated_reviews - split.test_reviews
    if train_rows <= config.max_in_memory_rows:
        train = _collect(labelled_batches(con, split.train_sql(), params, config))
        if train.is_empty() or test.is_empty():
            raise ValueError(_no_labels_message(train.height, test.height))
        model = train_in_memory(train, config)
    else:
        counts: dict[int, int] = {}
        for batch in labelled_batches(con, split.train_sql(), params, config):
            for value, count in class_counts(batch[LABEL].to_numpy()).items():
                counts[value] = counts.get(value, 0) + count
        sample = f"USING SAMPLE reservoir({config.max_cv_rows} ROWS) REPEATABLE ({config.seed})"
        cv_sample = _collect(labelled_batches(con, split.train_sql(), params, config, sample))
        model = train_incremental(
            lambda: labelled_batches(con, split.train_sql(), params, config),
            cv_sample,
            counts,
            config,
        )
    if test.is_empty() or np.unique(test[LABEL].to_numpy()).size < 2:
        raise ValueError(_no_labels_message(model.train_rows, test.height))
    evaluation = evaluate(model, test, config.label_source)
    band = neutral_band_report(con, split, model.pipeline)
    return SentimentRun(model, evaluation, split, test, band)


@dataclass(frozen=True)
class NeutralBandReport:
    """A neutral band chosen on half of the test window's rated reviews (3 stars included)
    and three-class figures on the other half: neither half was trained on, and the band is
    never scored on the rows that chose it."""

    low: float
    high: float
    calibration_rows: int
    evaluation_rows: int
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    three_star_called: dict[str, float]

    def metrics(self) -> dict[str, float]:
        flat = {
            "three_class.neutral_low": self.low,
            "three_class.neutral_high": self.high,
            "three_class.macro_f1": self.macro_f1,
        }
        for name, figures in self.per_class.items():
            flat.update({f"three_class.{name}.{k}": v for k, v in figures.items()})
        return flat


def neutral_band_report(
    con: duckdb.DuckDBPyConnection, split: TemporalSplit, pipeline: object
) -> NeutralBandReport | None:
    """Choose and check a neutral band on the test window (None when either half lacks one of
    the three classes, e.g. no 3-star review in a small lake). Halves are cut by a hash of
    review_id, so they do not depend on row order."""
    from sklearn.metrics import classification_report

    from paisa_assets.ml.neutral_band import (
        CLASSES,
        calibrate_neutral_band,
        classify,
        three_class_labels,
    )
    from paisa_assets.ml.sentiment import positive_probability

    rows = pl.from_arrow(
        con.sql(
            f"SELECT review_id, rating, hash(review_id) % 2 = 0 AS calibrates, {TEXT_SQL} "
            f"FROM reviews WHERE {split.test_sql()} AND rating IS NOT NULL",
            params=split.parameters(),
        ).arrow()
    )
    assert isinstance(rows, pl.DataFrame)
    classes = three_class_labels(rows["rating"].to_numpy())
    calibrates = rows["calibrates"].to_numpy()
    if any(np.unique(classes[part]).size < 3 for part in (calibrates, ~calibrates)):
        return None
    probability = positive_probability(pipeline, rows[TEXT_COLUMN].to_list())
    low, high = calibrate_neutral_band(probability[calibrates], classes[calibrates])
    truth, predicted = classes[~calibrates], classify(probability[~calibrates], low, high)
    report = classification_report(
        truth,
        predicted,
        labels=[0, 1, 2],
        target_names=list(CLASSES),
        output_dict=True,
        zero_division=0,
    )
    three_star = truth == 1
    return NeutralBandReport(
        low=low,
        high=high,
        calibration_rows=int(calibrates.sum()),
        evaluation_rows=int((~calibrates).sum()),
        macro_f1=float(report["macro avg"]["f1-score"]),
        per_class={
            name: {
                "precision": float(report[name]["precision"]),
                "recall": float(report[name]["recall"]),
                "f1": float(report[name]["f1-score"]),
            }
            for name in CLASSES
        },
        three_star_called={
            name: float((predicted[three_star] == code).mean()) for code, name in enumerate(CLASSES)
        },
    )


def _no_labels_message(train: int, test: int) -> str:
    return (
        f"labelled reviews: {train} to train, {test} to test; both splits need negative and "
        "positive reviews (rating labels exclude 3 stars by default): ingest more reviews"
    )
