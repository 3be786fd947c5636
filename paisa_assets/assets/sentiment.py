"""The sentiment classifier: trained on gold, tracked in MLflow, and gold.review_sentiment.

`sentiment_model` trains a candidate, measures it and its baselines on one time-held-out test
set, registers it as a new version of `paisa-sentiment`, and moves the `champion` alias only when
the candidate reaches the ROC AUC floor, beats its baselines (the first version included) and
beats the current champion on the test rows that neither of them trained on (each version
records its train/test cutoff). A lake too small to train on is reported by the check, not
raised. `gold.review_sentiment` is
always scored by the champion, incrementally: only reviews it has not scored yet are scored.
mlflow, scikit-learn and TextBlob are imported where they are used: every Dagster step process
imports this module, and a bronze step should not pay for loading a classifier it never uses.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from pydantic import Field

from paisa_assets.asset_specs import other_asset, table_asset, table_spec
from paisa_assets.materialization_metadata import table_metadata
from paisa_assets.ml.sentiment_champion import (
    MIN_ROC_AUC,
    SENTIMENT_MODEL,
    register_candidate,
)
from paisa_assets.ml.sentiment_results import record_candidate, trained_result, untrained_results
from paisa_assets.ml.sentiment_scoring import neutral_band_of, score_reviews
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.mlflow_tracking import MlflowTracking
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.tables import (
    GOLD_REVIEW_SENTIMENT,
    GOLD_REVIEWS_ENRICHED,
    GOLD_SENTIMENT_EVALUATIONS,
    asset_key,
)

if TYPE_CHECKING:
    from paisa_assets.ml.sentiment import SentimentConfig


class SentimentModelConfig(Config):
    """Training choices, editable in the launchpad; defaults suit the generated sample."""

    label_source: Literal["rating", "textblob"] = Field(
        default="rating",
        description="rating: 1-2 negative, 4-5 positive; textblob: TextBlob polarity sign.",
    )
    neutral_rating: Literal["exclude", "negative", "positive"] = Field(
        default="exclude", description="What a 3-star review counts as with rating labels."
    )
    test_fraction: float = Field(default=0.2, description="Newest share of reviews held out.")
    max_test_rows: int = 100_000
    cv_folds: int = Field(default=3, description="Folds of the hyper-parameter search.")
    c_grid: list[float] = Field(default=[0.3, 1.0, 3.0], description="Logistic regression C.")
    max_features: int = 300_000
    max_in_memory_rows: int = Field(
        default=400_000,
        description="Above this many training reviews, train incrementally on hashed features.",
    )
    seed: int = 42

    def to_sentiment_config(self) -> "SentimentConfig":
        from paisa_assets.ml.labels import LABEL_SOURCES, NEUTRAL_RATINGS
        from paisa_assets.ml.sentiment import SentimentConfig

        return SentimentConfig(
            label_source=LABEL_SOURCES[self.label_source],
            neutral_rating=NEUTRAL_RATINGS[self.neutral_rating],
            test_fraction=self.test_fraction,
            max_test_rows=self.max_test_rows,
            cv_folds=self.cv_folds,
            c_grid=tuple(self.c_grid),
            max_features=self.max_features,
            max_in_memory_rows=self.max_in_memory_rows,
            seed=self.seed,
        )


@multi_asset(
    name="sentiment_model",
    pool="sentiment_model",
    specs=[
        AssetSpec(
            "sentiment_model",
            deps=[asset_key(GOLD_REVIEWS_ENRICHED)],
            group_name="ml",
            kinds={"scikitlearn", "mlflow"},
            **other_asset("sentiment_model"),
            description=(
                "A TF-IDF + logistic regression sentiment classifier (hashing + SGD beyond the "
                "memory budget) trained on gold.reviews_enriched, tested on the newest reviews, "
                f"registered in MLflow as `{SENTIMENT_MODEL}`; alias `champion` moves only to a "
                "version above the floor and its baselines that beats the champion on rows "
                "neither trained on."
            ),
        ),
        table_spec(
            GOLD_SENTIMENT_EVALUATIONS, deps=[asset_key(GOLD_REVIEWS_ENRICHED)], kinds={"delta"}
        ),
    ],
    check_specs=[
        AssetCheckSpec(
            "roc_auc_above_floor_and_baselines",
            asset="sentiment_model",
            description=f"ROC AUC at least {MIN_ROC_AUC} and above both baselines.",
        )
    ],
)
def sentiment_model(
    context: AssetExecutionContext,
    config: SentimentModelConfig,
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
) -> Iterator[MaterializeResult]:
    from paisa_assets.ml.sentiment_data import fit_sentiment

    settings = config.to_sentiment_config()
    try:
        with warehouse.session(lakehouse, {"reviews": GOLD_REVIEWS_ENRICHED}) as con:
            run = fit_sentiment(con, settings)
    except (ValueError, LookupError) as error:
        # Too little data is a state of the lake, not a failure of the run: say why, keep the
        # champion (and its scores), and let the rest of the run go on.
        reason = f"sentiment_model cannot train: {error}"
        context.log.warning(f"{reason}; the champion stays")
        yield from untrained_results(mlflow_tracking, reason)
        return
    candidate = register_candidate(mlflow_tracking, run, settings)
    context.log.info(f"{SENTIMENT_MODEL} v{candidate.version}: {candidate.decision}")
    evaluations = record_candidate(lakehouse, run, candidate)
    yield trained_result(mlflow_tracking, run, candidate)
    yield evaluations


class ReviewSentimentConfig(Config):
    neutral_band: Literal["fixed", "calibrated"] = Field(
        default="fixed",
        description="fixed: neutral_low/neutral_high below; calibrated: the band the champion "
        "chose on held-out reviews with 3 stars as neutral (fixed when it has none).",
    )
    neutral_low: float = Field(default=0.4, description="P(positive) at or below this is negative.")
    neutral_high: float = Field(
        default=0.6, description="P(positive) at or above this is positive; between is neutral."
    )


@asset(
    **table_asset(
        GOLD_REVIEW_SENTIMENT,
        deps=["sentiment_model", asset_key(GOLD_REVIEWS_ENRICHED)],
        kinds={"delta", "mlflow"},
        # Part of gold_job: before the first model is trained the step succeeds without output.
        output_required=False,
    )
)
def gold_review_sentiment(
    context: AssetExecutionContext,
    config: ReviewSentimentConfig,
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
) -> Iterator[MaterializeResult]:
    import mlflow.sklearn

    champion = mlflow_tracking.champion(SENTIMENT_MODEL)
    if champion is None:
        context.log.warning(
            f"{GOLD_REVIEW_SENTIMENT} skipped: no `champion` version of {SENTIMENT_MODEL} in "
            f"MLflow ({mlflow_tracking.resolved_tracking_uri()}) yet; materialize sentiment_model"
        )
        return
    version = int(champion.version)
    low, high = neutral_band_of(
        config.neutral_band, config.neutral_low, config.neutral_high, dict(champion.tags or {})
    )
    context.log.info(f"neutral band ({low:.3f}, {high:.3f}), {config.neutral_band}")
    with mlflow_tracking.activated():
        model = mlflow.sklearn.load_model(f"models:/{SENTIMENT_MODEL}/{version}")
    scored, deleted = score_reviews(lakehouse, warehouse, model, version, low, high)
    context.log.info(
        f"{GOLD_REVIEW_SENTIMENT}: {scored} reviews scored by v{version}, {deleted} rows of "
        "reviews no longer in gold deleted"
    )
    yield MaterializeResult(
        metadata=table_metadata(
            lakehouse,
            GOLD_REVIEW_SENTIMENT,
            {"scored": scored, "deleted": deleted},
            model_version=MetadataValue.int(version),
        )
    )
