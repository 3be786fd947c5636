"""The recommender's step as Dagster runs it: evaluate, fit, log, gate, then write the tables of
a version that passed. The gate is `recommender_champion`'s, what is reported
`recommender_results`'; this module orders them. scipy is imported only here, inside the step.
"""

from collections.abc import Iterator

from dagster import AssetCheckResult, DagsterLogManager, MaterializeResult

from paisa_assets.ml.recommender_champion import (
    RECOMMENDER_MODEL,
    decide_champion,
    log_model,
    read_interactions,
)
from paisa_assets.ml.recommender_config import RecommenderConfig
from paisa_assets.ml.recommender_results import (
    kept_outputs,
    kept_tables,
    recorded_results,
    written_tables,
)
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.mlflow_tracking import MlflowTracking
from paisa_assets.tables import GOLD_RECOMMENDATIONS, GOLD_SIMILAR_PRODUCTS


def train_recommender(
    log: DagsterLogManager,
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
        log.warning(f"{reason}; the champion's tables stay")
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
    log.info(
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
