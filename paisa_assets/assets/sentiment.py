"""The sentiment classifier: trained on gold, tracked in MLflow, and gold.review_sentiment.

`sentiment_model` trains a candidate, measures it and its baselines on one time-held-out test
set, registers it as a new version of `paisa-sentiment`, and moves the `champion` alias only when
the candidate reaches the ROC AUC floor, beats its baselines (the first version included) and
beats the current champion on the test rows that neither of them trained on (each version
records its train/test cutoff). A lake too small to train on is reported by the check, not
raised. `gold.review_sentiment` is always scored by the champion, incrementally: only reviews it
has not scored yet are scored. The steps are in `ml.sentiment_steps`, the specs in
`ml.model_specs`.
"""

from collections.abc import Iterator

from dagster import AssetExecutionContext, MaterializeResult, asset, multi_asset

from paisa_assets.ml.model_specs import (
    REVIEW_SENTIMENT_ASSET,
    SENTIMENT_CHECK_SPECS,
    SENTIMENT_MODEL_SPECS,
)
from paisa_assets.ml.sentiment_config import ReviewSentimentConfig, SentimentModelConfig
from paisa_assets.ml.sentiment_steps import score_with_champion, train_sentiment
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.mlflow_tracking import MlflowTracking
from paisa_assets.resources.warehouse import Warehouse


@multi_asset(
    name="sentiment_model",
    pool="sentiment_model",
    specs=SENTIMENT_MODEL_SPECS,
    check_specs=SENTIMENT_CHECK_SPECS,
)
def sentiment_model(
    context: AssetExecutionContext,
    config: SentimentModelConfig,
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
) -> Iterator[MaterializeResult]:
    yield from train_sentiment(context.log, config, lakehouse, warehouse, mlflow_tracking)


@asset(**REVIEW_SENTIMENT_ASSET)
def gold_review_sentiment(
    context: AssetExecutionContext,
    config: ReviewSentimentConfig,
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
) -> Iterator[MaterializeResult]:
    result = score_with_champion(context.log, config, lakehouse, warehouse, mlflow_tracking)
    if result is not None:
        yield result
