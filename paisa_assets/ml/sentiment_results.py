"""What sentiment_model reports to Dagster: its materializations and its check, trained or not.

Kept apart from the step (`sentiment_steps.train_sentiment`), which decides what to report.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from dagster import AssetCheckResult, AssetCheckSeverity, MaterializeResult, MetadataValue

from paisa_assets.materialization_metadata import table_metadata
from paisa_assets.ml.evaluations_table import record_evaluation
from paisa_assets.ml.sentiment_champion import MIN_ROC_AUC, SENTIMENT_MODEL, evaluation_details
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.mlflow_tracking import MlflowTracking
from paisa_assets.tables import GOLD_SENTIMENT_EVALUATIONS, asset_key

if TYPE_CHECKING:
    from paisa_assets.ml.sentiment_champion import Candidate
    from paisa_assets.ml.sentiment_data import SentimentRun


def untrained_results(mlflow_tracking: MlflowTracking, reason: str) -> Iterator[MaterializeResult]:
    """The model (a failed WARN check, the champion kept) and the evaluations table unchanged."""
    champion = mlflow_tracking.champion(SENTIMENT_MODEL)
    yield MaterializeResult(
        asset_key="sentiment_model",
        metadata={
            "trained": MetadataValue.bool(False),
            "reason": MetadataValue.text(reason),
            "champion_version": MetadataValue.int(int(champion.version) if champion else None),
        },
        check_results=[
            AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.WARN,
                description=reason,
                metadata={"reason": MetadataValue.text(reason)},
            )
        ],
    )
    # Reported unchanged rather than skipped, so the steps after it (the dashboard) run.
    yield MaterializeResult(
        asset_key=asset_key(GOLD_SENTIMENT_EVALUATIONS),
        metadata={"updated": MetadataValue.bool(False), "reason": MetadataValue.text(reason)},
    )


def trained_result(
    mlflow_tracking: MlflowTracking, run: "SentimentRun", candidate: "Candidate"
) -> MaterializeResult:
    """The candidate's metrics, the promotion decision and the ERROR check on the floor and
    the baselines."""
    metrics, beats_baselines, comparison = (
        candidate.metrics,
        candidate.beats_baselines,
        candidate.comparison,
    )
    promoted, decision = candidate.promoted, candidate.decision
    run_id, version, champion_version = (
        candidate.run_id,
        candidate.version,
        candidate.champion_version,
    )
    passed = metrics["roc_auc"] >= MIN_ROC_AUC and beats_baselines
    baselines = {k: r.metrics["roc_auc"] for k, r in run.evaluation.baselines.items()}
    return MaterializeResult(
        asset_key="sentiment_model",
        metadata={
            **{name: MetadataValue.float(value) for name, value in metrics.items()},
            "model_version": MetadataValue.int(version),
            "champion_version": MetadataValue.int(champion_version),
            "promoted": MetadataValue.bool(promoted),
            "decision": MetadataValue.text(decision),
            "compared_rows": MetadataValue.int(comparison.rows if comparison else None),
            "mlflow_run_id": MetadataValue.text(run_id),
            "mlflow_run": MetadataValue.text(mlflow_tracking.run_link(run_id)),
            "mode": MetadataValue.text(run.model.mode),
            "best_params": MetadataValue.json(run.model.best_params),
            "cv_roc_auc": MetadataValue.float(run.model.cv_roc_auc),
            "train_rows": MetadataValue.int(run.model.train_rows),
            "test_period": MetadataValue.text(" to ".join(run.evaluation.test_period)),
            "confusion_matrix": MetadataValue.json(run.evaluation.model.confusion),
            "three_star_reviews_called": MetadataValue.json(
                run.neutral_band.three_star_called if run.neutral_band else None
            ),
        },
        check_results=[
            AssetCheckResult(
                passed=passed,
                severity=AssetCheckSeverity.ERROR,
                description=decision,
                metadata={
                    "roc_auc": MetadataValue.float(metrics["roc_auc"]),
                    "floor": MetadataValue.float(MIN_ROC_AUC),
                    "baseline_roc_auc": MetadataValue.json(baselines),
                },
            )
        ],
    )


def record_candidate(
    lakehouse: Lakehouse, run: "SentimentRun", candidate: "Candidate"
) -> MaterializeResult:
    """Appends the candidate's evaluation to gold.sentiment_evaluations, promoted or not, so
    every version's test is on record beside the decision taken on it."""
    record_evaluation(
        lakehouse,
        GOLD_SENTIMENT_EVALUATIONS,
        model=SENTIMENT_MODEL,
        version=candidate.version,
        run_id=candidate.run_id,
        champion_version=candidate.champion_version,
        metrics=candidate.metrics,
        details=evaluation_details(run.evaluation) | {"decision": candidate.decision},
    )
    return MaterializeResult(
        asset_key=asset_key(GOLD_SENTIMENT_EVALUATIONS),
        metadata=table_metadata(
            lakehouse, GOLD_SENTIMENT_EVALUATIONS, {"written": 1}, model_version=candidate.version
        ),
    )
