"""The recommender: trained on gold reviews (batch and stream), tracked in MLflow, and the two
tables it serves, gold.recommendations and gold.similar_products.

One training produces all three, so they are one multi-asset: the tables can never come from a
model other than the one whose evaluation is logged beside them. The model is EASE and item
neighbours over the recency-weighted history, backed off to category popularity (see
`paisa_assets.ml.recommender` for why).

The `champion` alias of `paisa-recommender` moves to a version only when it is significantly
better than the popularity baseline (paired tests at 1%) and better than the item mean on RMSE,
the first version included; the gold tables are rewritten only from such a version, so they
always agree with `paisa-recommender@champion`. A lake too small to train on (no reviewer with
enough reviews) is reported by the check and leaves the champion's tables. Versions are not
compared with each other on one test set as the classifier's are: a recommender must be refitted
on today's reviews to serve today's reviewers, so yesterday's fit has no fair test set left.
mlflow is imported where it is used (see resources/mlflow_tracking.py for why).
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from paisa_assets.asset_specs import other_asset, table_spec
from paisa_assets.materialization_metadata import table_metadata
from paisa_assets.ml.evaluations_table import record_evaluation
from paisa_assets.ml.recommender_champion import (
    RECOMMENDER_MODEL,
    decide_champion,
    log_model,
    read_interactions,
)
from paisa_assets.ml.significance import SIGNIFICANCE
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.mlflow_tracking import MlflowTracking
from paisa_assets.tables import (
    GOLD_RECOMMENDATIONS,
    GOLD_RECOMMENDER_EVALUATIONS,
    GOLD_REVIEWS_ENRICHED,
    GOLD_SIMILAR_PRODUCTS,
    asset_key,
)

RECOMMENDER = AssetKey("recommender")
GATE_CHECK = "significantly_beats_popularity_and_item_mean"


class RecommenderConfig(Config):
    k: int = Field(default=10, description="Products per reviewer and per product.")
    min_history: int = Field(
        default=3, description="Reviews a reviewer needs to have the latest one held out."
    )
    neighbours: int = Field(default=50, description="Neighbours kept per product.")


@multi_asset(
    pool="recommender",
    specs=[
        AssetSpec(
            RECOMMENDER,
            deps=[asset_key(GOLD_REVIEWS_ENRICHED)],
            group_name="ml",
            kinds={"scipy", "mlflow"},
            **other_asset("recommender"),
            description=(
                "EASE + item-neighbour recommender over the recency-weighted history with a "
                "category-popularity back-off and a kNN-baseline rating model, fitted on every "
                "gold review (batch and stream), evaluated on a temporal leave-last-out split "
                "against popularity and item-mean baselines, registered in MLflow as "
                f"`{RECOMMENDER_MODEL}`; `champion` only if significantly better."
            ),
        ),
        table_spec(GOLD_RECOMMENDATIONS, deps=[RECOMMENDER], kinds={"delta"}),
        table_spec(GOLD_SIMILAR_PRODUCTS, deps=[RECOMMENDER], kinds={"delta"}),
        table_spec(
            GOLD_RECOMMENDER_EVALUATIONS, deps=[asset_key(GOLD_REVIEWS_ENRICHED)], kinds={"delta"}
        ),
    ],
    check_specs=[
        AssetCheckSpec(
            GATE_CHECK,
            asset=RECOMMENDER,
            description=f"HitRate@10 better than popularity with McNemar p < {SIGNIFICANCE}, "
            "the NDCG@10 difference's 99% bootstrap interval above 0, RMSE below the item "
            "mean; the gate of promotion and of the gold tables.",
        )
    ],
)
def recommender(
    context: AssetExecutionContext,
    config: RecommenderConfig,
    lakehouse: Lakehouse,
    mlflow_tracking: MlflowTracking,
) -> Iterator[MaterializeResult | AssetCheckResult]:
    from paisa_assets.ml.recommender import PaisaRecommender, evaluate  # scipy: only here

    interactions, unusable = read_interactions(lakehouse)
    params = {"neighbours": config.neighbours}
    try:
        evaluation = evaluate(interactions, config.k, config.min_history, **params)
    except (ValueError, LookupError) as error:
        # Too little data is a state of the lake, not a failure of the run: say why, keep the
        # champion's tables, and let the rest of the run (the dashboard) go on.
        reason = f"recommender cannot train on the data at hand: {error}"
        context.log.warning(f"{reason}; the champion's tables stay")
        yield from _kept_outputs(mlflow_tracking, reason, interactions.height)
        return
    model = PaisaRecommender(**params).fit(interactions)
    run_id, version = log_model(mlflow_tracking, model, evaluation, config.k)
    passed, champion_version, decision = decide_champion(mlflow_tracking, evaluation, version)
    if passed:
        # Tables first, alias last: the alias never names a version whose rows are not in
        # gold (a crash in between leaves the previous champion named, and a rerun refits).
        recommendations = model.recommend(config.k)
        similar = model.similar_products(config.k)
        lakehouse.replace(GOLD_RECOMMENDATIONS, recommendations)
        lakehouse.replace(GOLD_SIMILAR_PRODUCTS, similar)
        mlflow_tracking.promote(RECOMMENDER_MODEL, version)
    metrics = evaluation.metrics()
    record_evaluation(
        lakehouse,
        GOLD_RECOMMENDER_EVALUATIONS,
        model=RECOMMENDER_MODEL,
        version=version,
        run_id=run_id,
        champion_version=champion_version,
        metrics=metrics,
        details={"model_params": evaluation.model_params, "k": config.k, "decision": decision},
    )
    context.log.info(
        f"{RECOMMENDER_MODEL} v{version}: HR@{config.k} {evaluation.hit_rate:.4f} vs "
        f"popularity {evaluation.popularity_hit_rate:.4f} (McNemar p "
        f"{evaluation.popularity_hit_p_value:.2g}); {decision}"
    )
    yield MaterializeResult(
        asset_key=RECOMMENDER,
        metadata={
            **{name: MetadataValue.float(value) for name, value in metrics.items()},
            "interactions": MetadataValue.int(interactions.height),
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
    if not passed:
        yield from _kept_tables(decision)
        return
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


def _kept_tables(reason: str) -> Iterator[MaterializeResult]:
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


def _kept_outputs(
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
    yield from _kept_tables(reason)
