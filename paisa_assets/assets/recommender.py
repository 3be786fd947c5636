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
The step is `ml.recommender_steps.train_recommender`, the specs are in `ml.model_specs`.
"""

from collections.abc import Iterator

from dagster import AssetCheckResult, AssetExecutionContext, MaterializeResult, multi_asset

from paisa_assets.ml.model_specs import RECOMMENDER_CHECK_SPECS, RECOMMENDER_SPECS
from paisa_assets.ml.recommender_config import RecommenderConfig
from paisa_assets.ml.recommender_steps import train_recommender
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.mlflow_tracking import MlflowTracking


@multi_asset(pool="recommender", specs=RECOMMENDER_SPECS, check_specs=RECOMMENDER_CHECK_SPECS)
def recommender(
    context: AssetExecutionContext,
    config: RecommenderConfig,
    lakehouse: Lakehouse,
    mlflow_tracking: MlflowTracking,
) -> Iterator[MaterializeResult | AssetCheckResult]:
    yield from train_recommender(context.log, config, lakehouse, mlflow_tracking)
