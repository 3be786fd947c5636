"""The sentiment classifier's champion: how a trained candidate is logged to MLflow, compared
with the current champion on rows neither trained on, and promoted (or not).
"""

import datetime as dt
import math
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any

import polars as pl

from paisa_assets.ml.model_text import TEXT_COLUMN
from paisa_assets.resources.mlflow_tracking import MlflowTracking, log_json_artifacts

if TYPE_CHECKING:
    from paisa_assets.ml.sentiment import SentimentConfig, SentimentEvaluation
    from paisa_assets.ml.sentiment_data import SentimentRun


SENTIMENT_MODEL = "paisa-sentiment"
MIN_ROC_AUC = 0.80
# The skops format loads only types it is told to trust: the pipeline's own cleaning function.
TRUSTED_TYPES = ["paisa_assets.ml.text_cleaning.clean_text_column"]


def _pip_requirements() -> list[str]:
    """Pinned to what trained the model (MLflow's own inference takes seconds per model)."""
    return [f"{name}=={package_version(name)}" for name in ("scikit-learn", "skops", "polars")]


CUTOFF_DATE_TAG, CUTOFF_ID_TAG = "train_cutoff_date", "train_cutoff_review_id"
NEUTRAL_LOW_TAG, NEUTRAL_HIGH_TAG = "neutral_low", "neutral_high"


@dataclass(frozen=True)
class ChampionComparison:
    """Champion and candidate on the candidate's test rows that the champion never trained on."""

    version: int
    rows: int
    champion_roc_auc: float
    candidate_roc_auc: float


def unseen_by_champion(test: pl.DataFrame, tags: dict[str, str]) -> pl.DataFrame:
    """The test rows at or after the champion's own train/test cutoff: rows it never trained
    on, even when older-dated reviews arrived since and moved today's cutoff back. Versions
    without the tags (trained before they existed) are compared on the whole test set."""
    if CUTOFF_DATE_TAG not in tags or CUTOFF_ID_TAG not in tags:
        return test
    date = dt.date.fromisoformat(tags[CUTOFF_DATE_TAG])
    review_id = tags[CUTOFF_ID_TAG]
    return test.filter(
        (pl.col("review_date") > date)
        | ((pl.col("review_date") == date) & (pl.col("review_id") >= review_id))
    )


def compare_with_champion(
    mlflow_tracking: MlflowTracking, run: "SentimentRun"
) -> ChampionComparison | None:
    """The current champion against the candidate on rows neither trained on (None before
    the first champion). ROC AUC is NaN for both when those rows hold one class only."""
    champion = mlflow_tracking.champion(SENTIMENT_MODEL)
    if champion is None:
        return None
    import mlflow.sklearn

    from paisa_assets.ml.classification_metrics import roc_auc_or_nan
    from paisa_assets.ml.sentiment import LABEL, positive_probability

    rows = unseen_by_champion(run.test, dict(champion.tags or {}))
    labels = rows[LABEL].to_numpy()
    texts = rows[TEXT_COLUMN].to_list()
    with mlflow_tracking.activated():
        model = mlflow.sklearn.load_model(f"models:/{SENTIMENT_MODEL}/{champion.version}")
    return ChampionComparison(
        version=int(champion.version),
        rows=rows.height,
        champion_roc_auc=roc_auc_or_nan(labels, positive_probability(model, texts)),
        candidate_roc_auc=roc_auc_or_nan(labels, positive_probability(run.model.pipeline, texts)),
    )


def promotion_decision(
    metrics: dict[str, float], beats_baselines: bool, comparison: ChampionComparison | None
) -> tuple[bool, str]:
    """(promote, why). Every version, the first included, must reach the ROC AUC floor and
    beat its baselines; a later one must also beat the champion on rows neither trained on."""
    auc = metrics["roc_auc"]
    keep = f"champion v{comparison.version} stays" if comparison else "no champion yet"
    if not auc >= MIN_ROC_AUC:
        return False, f"not promoted: ROC AUC {auc:.4f} below the floor {MIN_ROC_AUC}; {keep}"
    if not beats_baselines:
        return False, f"not promoted: ROC AUC {auc:.4f} does not beat every baseline; {keep}"
    if comparison is None:
        return True, f"promoted: first version (ROC AUC {auc:.4f}, floor and baselines met)"
    where = f"on the {comparison.rows} test rows neither model trained on"
    if math.isnan(comparison.champion_roc_auc):
        return False, (
            f"kept champion v{comparison.version}: the {comparison.rows} test rows neither "
            "model trained on do not hold both classes, so the two cannot be compared"
        )
    if comparison.candidate_roc_auc > comparison.champion_roc_auc:
        return True, (
            f"promoted: ROC AUC {comparison.candidate_roc_auc:.4f} beats champion "
            f"v{comparison.version} ({comparison.champion_roc_auc:.4f}) {where}"
        )
    return False, (
        f"kept champion v{comparison.version}: its ROC AUC {comparison.champion_roc_auc:.4f} "
        f"{where} is not beaten by {comparison.candidate_roc_auc:.4f}"
    )


def evaluation_details(evaluation: "SentimentEvaluation") -> dict[str, Any]:
    return {
        "roc_curve": evaluation.model.roc_curve,
        "baseline_roc_curves": {k: r.roc_curve for k, r in evaluation.baselines.items()},
        "confusion_matrix": {
            "labels": ["negative", "positive"],
            "matrix": evaluation.model.confusion,
        },
        "per_class": evaluation.model.per_class,
        "test_period": list(evaluation.test_period),
    }


def log_candidate(
    mlflow_tracking: MlflowTracking, run: "SentimentRun", config: "SentimentConfig"
) -> tuple[str, int]:
    """Log parameters, metrics, curves and the model; register it. Returns (run id, version)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from paisa_assets.ml.sentiment import model_input

    examples = model_input(run.test[TEXT_COLUMN].head(3).to_list())
    signature = infer_signature(examples, run.model.pipeline.predict_proba(examples)[:, 1])
    with mlflow_tracking.start_run("sentiment_model") as mlflow_run:
        mlflow.log_params(
            config.params() | {f"best_{k}": v for k, v in run.model.best_params.items()}
        )
        mlflow.log_params({"mode": run.model.mode, "train_rows": run.model.train_rows})
        band = run.neutral_band.metrics() if run.neutral_band else {}
        mlflow.log_metrics(
            {k.replace(".", "_"): v for k, v in (run.evaluation.metrics() | band).items()}
            | {"cv_roc_auc": run.model.cv_roc_auc}
        )
        log_json_artifacts({"evaluation": evaluation_details(run.evaluation)})
        info = mlflow.sklearn.log_model(
            run.model.pipeline,
            name="model",
            signature=signature,
            input_example=examples,
            registered_model_name=SENTIMENT_MODEL,
            pip_requirements=_pip_requirements(),
            skops_trusted_types=TRUSTED_TYPES,
        )
    return mlflow_run.info.run_id, int(info.registered_model_version)


@dataclass(frozen=True)
class Candidate:
    """A trained version, registered in MLflow, and whether it became the champion."""

    metrics: dict[str, float]
    beats_baselines: bool
    comparison: ChampionComparison | None
    promoted: bool
    decision: str
    run_id: str
    version: int
    champion_version: int | None


def register_candidate(
    mlflow_tracking: MlflowTracking, run: "SentimentRun", settings: "SentimentConfig"
) -> Candidate:
    """Compare the trained candidate with the champion, log and register it, tag the version
    with its decision and train/test cutoff, and move the `champion` alias when it wins."""
    metrics = run.evaluation.metrics()
    beats_baselines = run.evaluation.beats_baselines()
    comparison = compare_with_champion(mlflow_tracking, run)
    promoted, decision = promotion_decision(metrics, beats_baselines, comparison)
    run_id, version = log_candidate(mlflow_tracking, run, settings)
    champion_version = version if promoted else (comparison.version if comparison else None)
    band_tags = (
        {
            NEUTRAL_LOW_TAG: repr(run.neutral_band.low),
            NEUTRAL_HIGH_TAG: repr(run.neutral_band.high),
        }
        if run.neutral_band
        else {}
    )
    mlflow_tracking.tag_version(
        SENTIMENT_MODEL,
        version,
        {
            "champion_decision": decision,
            CUTOFF_DATE_TAG: run.split.cutoff_date.isoformat(),
            CUTOFF_ID_TAG: run.split.cutoff_review_id,
        }
        | band_tags,
    )
    if promoted:  # last: a scoring run that sees the alias also sees the version's tags
        mlflow_tracking.promote(SENTIMENT_MODEL, version)
    if run.neutral_band:
        metrics |= run.neutral_band.metrics()
    return Candidate(
        metrics=metrics,
        beats_baselines=beats_baselines,
        comparison=comparison,
        promoted=promoted,
        decision=decision,
        run_id=run_id,
        version=version,
        champion_version=champion_version,
    )
