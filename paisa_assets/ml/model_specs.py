"""What the ML assets declare to Dagster: the models' specs, their gate checks, and the tables
each training or scoring step writes beside its model.

Both models are trained on gold.reviews_enriched and live in the `ml` group; their owners, layer
tag and code version come from the registry (`asset_specs.other_asset`).
"""

from dagster import AssetCheckSpec, AssetSpec

from paisa_assets.asset_specs import other_asset, table_asset, table_spec
from paisa_assets.ml.recommender_champion import RECOMMENDER_MODEL
from paisa_assets.ml.recommender_results import GATE_CHECK, RECOMMENDER
from paisa_assets.ml.sentiment_champion import MIN_ROC_AUC, SENTIMENT_MODEL
from paisa_assets.ml.significance import SIGNIFICANCE
from paisa_assets.tables import (
    GOLD_RECOMMENDATIONS,
    GOLD_RECOMMENDER_EVALUATIONS,
    GOLD_REVIEW_SENTIMENT,
    GOLD_REVIEWS_ENRICHED,
    GOLD_SENTIMENT_EVALUATIONS,
    GOLD_SIMILAR_PRODUCTS,
    asset_key,
)

TRAINING_DEPS = [asset_key(GOLD_REVIEWS_ENRICHED)]


def model_spec(key: str, *, kinds: set[str], description: str) -> AssetSpec:
    """A model trained on gold.reviews_enriched (an MLflow registered model, no table)."""
    return AssetSpec(
        key,
        deps=TRAINING_DEPS,
        group_name="ml",
        kinds=kinds,
        **other_asset(key),
        description=description,
    )


def evaluations_spec(table: str) -> AssetSpec:
    """A model's evaluations table: one row per trained version, promoted or not."""
    return table_spec(table, deps=TRAINING_DEPS, kinds={"delta"})


SENTIMENT_MODEL_SPECS = [
    model_spec(
        "sentiment_model",
        kinds={"scikitlearn", "mlflow"},
        description=(
            "A TF-IDF + logistic regression sentiment classifier (hashing + SGD beyond the "
            "memory budget) trained on gold.reviews_enriched, tested on the newest reviews, "
            f"registered in MLflow as `{SENTIMENT_MODEL}`; alias `champion` moves only to a "
            "version above the floor and its baselines that beats the champion on rows "
            "neither trained on."
        ),
    ),
    evaluations_spec(GOLD_SENTIMENT_EVALUATIONS),
]
SENTIMENT_CHECK_SPECS = [
    AssetCheckSpec(
        "roc_auc_above_floor_and_baselines",
        asset="sentiment_model",
        description=f"ROC AUC at least {MIN_ROC_AUC} and above both baselines.",
    )
]
REVIEW_SENTIMENT_ASSET = table_asset(
    GOLD_REVIEW_SENTIMENT,
    deps=["sentiment_model", *TRAINING_DEPS],
    kinds={"delta", "mlflow"},
    # Part of gold_job: before the first model is trained the step succeeds without output.
    output_required=False,
)

RECOMMENDER_SPECS = [
    model_spec(
        RECOMMENDER.to_user_string(),
        kinds={"scipy", "mlflow"},
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
    evaluations_spec(GOLD_RECOMMENDER_EVALUATIONS),
]
RECOMMENDER_CHECK_SPECS = [
    AssetCheckSpec(
        GATE_CHECK,
        asset=RECOMMENDER,
        description=f"HitRate@10 better than popularity with McNemar p < {SIGNIFICANCE}, "
        "the NDCG@10 difference's 99% bootstrap interval above 0, RMSE below the item "
        "mean; the gate of promotion and of the gold tables.",
    )
]
