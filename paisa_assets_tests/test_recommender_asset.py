"""The recommender through Dagster and MLflow on generated gold data: it beats its baselines,
serves exactly k new products to every reviewer, and its registered model serves cold starts."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pandas as pd
import polars as pl
import pytest
from dagster import AssetKey, ExecuteInProcessResult

from paisa_assets.assets.recommender import RECOMMENDER_MODEL
from paisa_assets.tables import (
    GOLD_MODEL_EVALUATIONS,
    GOLD_RECOMMENDATIONS,
    GOLD_REVIEWS_ENRICHED,
    GOLD_SIMILAR_PRODUCTS,
)
from paisa_assets_tests.conftest import Workspace, generated_lake

K = 10


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Workspace, ExecuteInProcessResult]]:
    root = tmp_path_factory.mktemp("recommender")
    with generated_lake(root, reviews=20_000, seed=3) as (workspace, instance):
        job = workspace.defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[
                AssetKey("recommender"),
                AssetKey(["gold", "recommendations"]),
                AssetKey(["gold", "similar_products"]),
            ],
            raise_on_error=False,
        )
        yield workspace, result


def recommender_metadata(result: ExecuteInProcessResult) -> dict[str, object]:
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == AssetKey("recommender")
    ]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def test_recommender_beats_popularity_and_item_mean(
    trained: tuple[Workspace, ExecuteInProcessResult],
) -> None:
    workspace, result = trained
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.passed
    meta = recommender_metadata(result)
    assert meta["hit_rate_at_10"] > 1.2 * meta["baseline_popularity.hit_rate_at_10"]
    assert meta["ndcg_at_10"] > 1.2 * meta["baseline_popularity.ndcg_at_10"]
    assert meta["catalog_coverage"] > meta["baseline_popularity.catalog_coverage"]
    assert meta["rmse"] < meta["baseline_item_mean.rmse"]
    assert meta["promoted"] is True
    champion = workspace.mlflow_tracking.champion(RECOMMENDER_MODEL)
    assert champion is not None and int(champion.version) == meta["model_version"]

    row = (
        workspace.lakehouse.read(GOLD_MODEL_EVALUATIONS)
        .filter(pl.col("model") == RECOMMENDER_MODEL)
        .row(0, named=True)
    )
    assert row["is_champion"] and row["run_id"] == meta["mlflow_run_id"]
    assert json.loads(row["metrics"])["ndcg_at_10"] == meta["ndcg_at_10"]


def test_every_reviewer_gets_k_products_never_one_already_reviewed(
    trained: tuple[Workspace, ExecuteInProcessResult],
) -> None:
    workspace, _ = trained
    reviews = workspace.lakehouse.read(GOLD_REVIEWS_ENRICHED, columns=["reviewer_id", "asin"])
    recommendations = workspace.lakehouse.read(GOLD_RECOMMENDATIONS)
    assert recommendations["reviewer_id"].n_unique() == reviews["reviewer_id"].n_unique()
    assert recommendations.height == K * reviews["reviewer_id"].n_unique()
    per_reviewer = recommendations.group_by("reviewer_id").agg(
        ranks=pl.col("rank").sort(), products=pl.col("asin").n_unique()
    )
    assert per_reviewer["ranks"].to_list() == [list(range(1, K + 1))] * per_reviewer.height
    assert per_reviewer["products"].unique().to_list() == [K]
    already_reviewed = recommendations.join(reviews, on=["reviewer_id", "asin"], how="semi")
    assert already_reviewed.height == 0
    assert set(recommendations["reason"].unique()) <= {"personal", "popular_in_category", "popular"}
    assert recommendations["asin"].is_in(reviews["asin"].unique()).all()


def test_similar_products_exclude_the_product_itself(
    trained: tuple[Workspace, ExecuteInProcessResult],
) -> None:
    workspace, _ = trained
    similar = workspace.lakehouse.read(GOLD_SIMILAR_PRODUCTS)
    assert similar.height > 0
    assert similar.filter(pl.col("asin") == pl.col("similar_asin")).height == 0
    assert similar.group_by("asin").agg(pl.len())["len"].max() <= K
    assert similar["similarity"].is_between(0, 1).all()
    descending = (
        similar.sort("asin", "rank")
        .group_by("asin", maintain_order=True)
        .agg(ok=(pl.col("similarity").diff().fill_null(0) <= 1e-12).all())
    )
    assert descending["ok"].all()


def test_registered_model_serves_known_and_cold_start_reviewers(
    trained: tuple[Workspace, ExecuteInProcessResult],
) -> None:
    import mlflow.pyfunc

    workspace, _ = trained
    gold = workspace.lakehouse.read(GOLD_REVIEWS_ENRICHED, columns=["reviewer_id", "main_cat"])
    known = gold["reviewer_id"][0]
    category = gold.drop_nulls("main_cat")["main_cat"].mode()[0]
    with workspace.mlflow_tracking.activated():
        model = mlflow.pyfunc.load_model(f"models:/{RECOMMENDER_MODEL}@champion")
    served = pl.from_pandas(
        model.predict(
            pd.DataFrame({"reviewer_id": [known, "NEW-REVIEWER"], "main_cat": [None, category]})
        )
    )
    stored = workspace.lakehouse.read(GOLD_RECOMMENDATIONS).filter(pl.col("reviewer_id") == known)
    assert served.filter(pl.col("reviewer_id") == known).sort("rank")["asin"].to_list() == (
        stored.sort("rank")["asin"].to_list()
    )
    cold = served.filter(pl.col("reviewer_id") == "NEW-REVIEWER").sort("rank")
    assert cold.height == K
    assert cold["reason"][0] == "popular_in_category"
    in_category = gold.filter(pl.col("main_cat") == category)
    assert (
        cold.filter(pl.col("reason") == "popular_in_category")["asin"]
        .is_in(
            workspace.lakehouse.read(GOLD_REVIEWS_ENRICHED, columns=["asin", "main_cat"]).filter(
                pl.col("main_cat") == category
            )["asin"]
        )
        .all()
    )
    assert in_category.height > 0
