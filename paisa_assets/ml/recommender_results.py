"""What the recommender multi-asset reports to Dagster: the evaluation it records, the model's
metadata, its gate check, and its three tables, written or kept. Kept apart from the step
(`recommender_steps.train_recommender`), which decides what to report.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MaterializeResult, MetadataValue

from paisa_assets.materialization_metadata import table_metadata
from paisa_assets.ml.evaluations_table import record_evaluation
from paisa_assets.ml.recommender_champion import RECOMMENDER_MODEL
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.mlflow_tracking import MlflowTracking
from paisa_assets.tables import (
    GOLD_RECOMMENDATIONS,
    GOLD_RECOMMENDER_EVALUATIONS,
    GOLD_SIMILAR_PRODUCTS,
    asset_key,
)

if TYPE_CHECKING:
    from paisa_assets.ml.recommender import RecommenderEvaluation

RECOMMENDER = AssetKey("recommender")
GATE_CHECK = "significantly_beats_popularity_and_item_mean"


def recorded_results(
    lakehouse: Lakehouse,
    mlflow_tracking: MlflowTracking,
    evaluation: "RecommenderEvaluation",
    k: int,
    interactions: int,
    unusable: int,
    run_id: str,
    version: int,
    champion_version: int | None,
    passed: bool,
    decision: str,
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Appends the fitted version's evaluation to gold.recommender_evaluations (promoted or
    not), then reports the model, its gate check and that row."""
    metrics = evaluation.metrics()
    record_evaluation(
        lakehouse,
        GOLD_RECOMMENDER_EVALUATIONS,
        model=RECOMMENDER_MODEL,
        version=version,
        run_id=run_id,
        champion_version=champion_version,
        metrics=metrics,
        details={"model_params": evaluation.model_params, "k": k, "decision": decision},
    )
    yield MaterializeResult(
        asset_key=RECOMMENDER,
        metadata={
            **{name: MetadataValue.float(value) for name, value in metrics.items()},
            "interactions": MetadataValue.int(interactions),
            "rows_without_reviewer_product_rating_or_date": MetadataValue.int(unusable),
            "model_version": MetadataValue.int(version),
            "champion_version": MetadataValue.int(champion_version),
            "promoted": MetadataValue.bool(passed),
            "decision": MetadataValue.text(decision),
            "mlflow_run_id": MetadataValue.text(run_id),
            "mlflow_run": MetadataValue.text(mlflow_tracking.run_link(run_id)),
            "model_params": MetadataValue.json(evaluation.model_params),
        },
    )
    yield AssetCheckResult(
        asset_key=RECOMMENDER,
        check_name=GATE_CHECK,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=decision,
        metadata={
            name: MetadataValue.float(metrics[name])
            for name in metrics
            if name.split(".")[-1].startswith(("hit", "ndcg", "rmse"))
        },
    )
    yield MaterializeResult(
        asset_key=asset_key(GOLD_RECOMMENDER_EVALUATIONS),
        metadata=table_metadata(
            lakehouse, GOLD_RECOMMENDER_EVALUATIONS, {"written": 1}, model_version=version
        ),
    )


def written_tables(
    lakehouse: Lakehouse, version: int, recommendations: pl.DataFrame, similar: pl.DataFrame
) -> Iterator[MaterializeResult]:
    # Written above only because this version passed its gate: the tables always agree with
    # `paisa-recommender@champion`.
    for table, written in (
        (GOLD_RECOMMENDATIONS, recommendations),
        (GOLD_SIMILAR_PRODUCTS, similar),
    ):
        yield MaterializeResult(
            asset_key=asset_key(table),
            metadata=table_metadata(
                lakehouse,
                table,
                {"written": written.height},
                model_version=MetadataValue.int(version),
            ),
        )


def kept_tables(reason: str) -> Iterator[MaterializeResult]:
    """Materializations that change nothing: the tables keep the champion's rows (or stay
    absent before the first champion). Reported rather than skipped, so that the steps
    downstream in the same run (the dashboard) still run."""
    for table in (GOLD_RECOMMENDATIONS, GOLD_SIMILAR_PRODUCTS):
        yield MaterializeResult(
            asset_key=asset_key(table),
            metadata={
                "updated": MetadataValue.bool(False),
                "reason": MetadataValue.text(reason),
            },
        )


def kept_outputs(
    mlflow_tracking: MlflowTracking, reason: str, interactions: int
) -> Iterator[MaterializeResult | AssetCheckResult]:
    champion = mlflow_tracking.champion(RECOMMENDER_MODEL)
    yield MaterializeResult(
        asset_key=RECOMMENDER,
        metadata={
            "trained": MetadataValue.bool(False),
            "reason": MetadataValue.text(reason),
            "interactions": MetadataValue.int(interactions),
            "champion_version": MetadataValue.int(int(champion.version) if champion else None),
        },
    )
    yield AssetCheckResult(
        asset_key=RECOMMENDER,
        check_name=GATE_CHECK,
        passed=False,
        severity=AssetCheckSeverity.WARN,
        description=reason,
    )
    yield MaterializeResult(
        asset_key=asset_key(GOLD_RECOMMENDER_EVALUATIONS),
        metadata={"updated": MetadataValue.bool(False), "reason": MetadataValue.text(reason)},
    )
    yield from kept_tables(reason)
