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
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Config,
    MaterializeResult,
    multi_asset,
)
from pydantic import Field

from paisa_assets.asset_specs import other_asset, table_spec
from paisa_assets.ml.recommender_champion import (
    RECOMMENDER_MODEL,
    decide_champion,
    log_model,
    read_interactions,
)
from paisa_assets.ml.recommender_results import (
    GATE_CHECK,
    RECOMMENDER,
    kept_outputs,
    kept_tables,
    recorded_results,
    written_tables,
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
        yield from kept_outputs(mlflow_tracking, reason, interactions.height)
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
    context.log.info(
        f"{RECOMMENDER_MODEL} v{version}: HR@{config.k} {evaluation.hit_rate:.4f} vs "
        f"popularity {evaluation.popularity_hit_rate:.4f} (McNemar p "
        f"{evaluation.popularity_hit_p_value:.2g}); {decision}"
    )
    yield from recorded_results(
        lakehouse,
        mlflow_tracking,
        evaluation,
        config.k,
        interactions.height,
        unusable,
        run_id,
        version,
        champion_version,
        passed,
        decision,
    )
    if not passed:
        yield from kept_tables(decision)
        return
    yield from written_tables(lakehouse, version, recommendations, similar)
