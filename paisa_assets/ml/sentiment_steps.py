"""The two sentiment steps as Dagster runs them: train and register a candidate, and score gold
reviews with the champion. The decisions live in `sentiment_champion`, the scoring in
`sentiment_scoring`, what is reported in `sentiment_results`; this module orders them.

mlflow, scikit-learn and TextBlob are imported inside the steps: every Dagster step process
imports the asset modules, and a bronze step should not pay for loading a classifier.
"""

from collections.abc import Iterator

from dagster import DagsterLogManager, MaterializeResult, MetadataValue

from paisa_assets.materialization_metadata import table_metadata
from paisa_assets.ml.sentiment_champion import SENTIMENT_MODEL, register_candidate
from paisa_assets.ml.sentiment_config import ReviewSentimentConfig, SentimentModelConfig
from paisa_assets.ml.sentiment_results import record_candidate, trained_result, untrained_results
from paisa_assets.ml.sentiment_scoring import neutral_band_of, score_reviews
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.mlflow_tracking import MlflowTracking
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.tables import GOLD_REVIEW_SENTIMENT, GOLD_REVIEWS_ENRICHED


def train_sentiment(
    log: DagsterLogManager,
    config: SentimentModelConfig,
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
) -> Iterator[MaterializeResult]:
    """The model's result (with its check), then its evaluations table's."""
    from paisa_assets.ml.sentiment_data import fit_sentiment

    settings = config.to_sentiment_config()
    try:
        with warehouse.session(lakehouse, {"reviews": GOLD_REVIEWS_ENRICHED}) as con:
            run = fit_sentiment(con, settings)
    except (ValueError, LookupError) as error:
        # Too little data is a state of the lake, not a failure of the run: say why, keep the
        # champion (and its scores), and let the rest of the run go on.
        reason = f"sentiment_model cannot train: {error}"
        log.warning(f"{reason}; the champion stays")
        yield from untrained_results(mlflow_tracking, reason)
        return
    candidate = register_candidate(mlflow_tracking, run, settings)
    log.info(f"{SENTIMENT_MODEL} v{candidate.version}: {candidate.decision}")
    evaluations = record_candidate(lakehouse, run, candidate)
    yield trained_result(mlflow_tracking, run, candidate)
    yield evaluations


def score_with_champion(
    log: DagsterLogManager,
    config: ReviewSentimentConfig,
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
) -> MaterializeResult | None:
    """Scores the reviews the champion has not scored yet; None (nothing written) before the
    first champion."""
    champion = mlflow_tracking.champion(SENTIMENT_MODEL)
    if champion is None:
        log.warning(
            f"{GOLD_REVIEW_SENTIMENT} skipped: no `champion` version of {SENTIMENT_MODEL} in "
            f"MLflow ({mlflow_tracking.resolved_tracking_uri()}) yet; materialize sentiment_model"
        )
        return None
    version = int(champion.version)
    low, high = neutral_band_of(
        config.neutral_band, config.neutral_low, config.neutral_high, dict(champion.tags or {})
    )
    log.info(f"neutral band ({low:.3f}, {high:.3f}), {config.neutral_band}")
    import mlflow.sklearn  # only once there is a model to load (importing it takes seconds)

    with mlflow_tracking.activated():
        model = mlflow.sklearn.load_model(f"models:/{SENTIMENT_MODEL}/{version}")
    scored, deleted = score_reviews(lakehouse, warehouse, model, version, low, high)
    log.info(
        f"{GOLD_REVIEW_SENTIMENT}: {scored} reviews scored by v{version}, {deleted} rows of "
        "reviews no longer in gold deleted"
    )
    return MaterializeResult(
        metadata=table_metadata(
            lakehouse,
            GOLD_REVIEW_SENTIMENT,
            {"scored": scored, "deleted": deleted},
            model_version=MetadataValue.int(version),
        )
    )
