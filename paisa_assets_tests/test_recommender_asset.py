"""The recommender through Dagster and MLflow on generated gold data: it beats its baselines,
serves exactly k new products to every reviewer, and its registered model serves cold starts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from paisa_assets.lake_views import read_view
from paisa_assets.ml.recommender_champion import RECOMMENDER_MODEL
from paisa_assets.runner import sync_partitions
from paisa_assets.tables import (
    GOLD_MODEL_EVALUATIONS,
    GOLD_RECOMMENDATIONS,
    GOLD_REVIEWS_ENRICHED,
    GOLD_SIMILAR_PRODUCTS,
)
from paisa_assets_tests.conftest import (
    Workspace,
    generated_lake,
    make_workspace,
    materialize_all,
    review,
)

# One pytest-xdist worker runs this module: its tests share a module-scoped fixture.
pytestmark = pytest.mark.xdist_group("test_recommender_asset")

K = 10
RECOMMENDER_OUTPUTS = [
    AssetKey("recommender"),
    AssetKey(["gold", "recommendations"]),
    AssetKey(["gold", "similar_products"]),
    AssetKey(["gold", "recommender_evaluations"]),
]


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Workspace, ExecuteInProcessResult]]:
    root = tmp_path_factory.mktemp("recommender")
    with generated_lake(root, reviews=20_000, seed=3) as (workspace, instance):
        job = workspace.defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(
            instance=instance,
            asset_selection=RECOMMENDER_OUTPUTS,
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
    # Significantly better than popularity on the generated co-purchase clusters (the gate).
    assert meta["baseline_popularity.hit_p_value"] < 0.01
    assert meta["baseline_popularity.hit_wins"] > meta["baseline_popularity.hit_losses"]
    assert meta["baseline_popularity.ndcg_difference_low"] > 0
    assert meta["catalog_coverage"] > meta["baseline_popularity.catalog_coverage"]
    assert meta["rmse"] < meta["baseline_item_mean.rmse"]
    assert meta["promoted"] is True
    champion = workspace.mlflow_tracking.champion(RECOMMENDER_MODEL)
    assert champion is not None and int(champion.version) == meta["model_version"]

    row = (
        read_view(workspace.lakehouse, GOLD_MODEL_EVALUATIONS)
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


def clustered_gold(seed: int, structured: bool) -> pl.DataFrame:
    """Interactions as gold would hold them: 400 reviewers x 5 reviews over 150 products.

    Structured: each reviewer keeps to one of 30 clusters of 5 products and rates everything
    alike (a reviewer bias the item mean cannot see): the model wins clearly. Unstructured:
    products and ratings drawn uniformly: nothing to learn beyond popularity.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(400):
        cluster = rng.integers(0, 30)
        products = (
            cluster * 5 + rng.permutation(5) if structured else rng.choice(150, 5, replace=False)
        )
        rating = float(rng.integers(1, 6))
        for order, product in enumerate(products):
            rows.append(
                {
                    "reviewer_id": f"U{user:04d}",
                    "asin": f"P{product:04d}",
                    "rating": rating if structured else float(rng.integers(1, 6)),
                    "review_date": dt.date(2016, 1, 1) + dt.timedelta(days=int(order)),
                    "main_cat": f"C{product % 3}",
                }
            )
    return pl.DataFrame(rows)


def run_recommender(
    workspace: Workspace, instance: DagsterInstance, extra: list[AssetKey] | None = None
) -> ExecuteInProcessResult:
    job = workspace.defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        asset_selection=RECOMMENDER_OUTPUTS + (extra or []),
        raise_on_error=False,
    )


def test_a_version_below_its_gate_leaves_the_champions_tables(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    lake = workspace.lakehouse
    with DagsterInstance.ephemeral() as instance:
        lake.replace(GOLD_REVIEWS_ENRICHED, clustered_gold(1, structured=True))
        first = run_recommender(workspace, instance)
        assert first.success
        meta = recommender_metadata(first)
        assert meta["promoted"] is True
        champion = meta["model_version"]
        recommendations, similar = lake.read(GOLD_RECOMMENDATIONS), lake.read(GOLD_SIMILAR_PRODUCTS)
        assert recommendations.height == 400 * K

        lake.replace(GOLD_REVIEWS_ENRICHED, clustered_gold(2, structured=False))
        second = run_recommender(workspace, instance)
        assert second.success  # a failed gate is a check result, not a failed run
        meta = recommender_metadata(second)
        assert meta["promoted"] is False and meta["model_version"] == champion + 1
        assert meta["champion_version"] == champion
        assert "not significantly better than popularity" in meta["decision"]
        (check,) = second.get_asset_check_evaluations()
        assert not check.passed and check.description == meta["decision"]
        assert int(workspace.mlflow_tracking.champion(RECOMMENDER_MODEL).version) == champion
        # The tables still hold the champion's rows, reported as not updated (so that steps
        # downstream in the run, such as the dashboard, still run).
        assert lake.read(GOLD_RECOMMENDATIONS).equals(recommendations)
        assert lake.read(GOLD_SIMILAR_PRODUCTS).equals(similar)
        kept = {
            e.asset_key: e.materialization.metadata
            for e in second.get_asset_materialization_events()
        }
        for key in RECOMMENDER_OUTPUTS[1:3]:
            assert kept[key]["updated"].value is False
        # The evaluations table records every version, promoted or not.
        assert kept[RECOMMENDER_OUTPUTS[3]]["rows_written"].value == 1
        flags = read_view(lake, GOLD_MODEL_EVALUATIONS).filter(pl.col("model") == RECOMMENDER_MODEL)
        assert flags.filter("is_champion")["version"].to_list() == [champion]


def test_the_first_version_faces_the_gate_too(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    workspace.lakehouse.replace(GOLD_REVIEWS_ENRICHED, clustered_gold(2, structured=False))
    with DagsterInstance.ephemeral() as instance:
        result = run_recommender(workspace, instance)
    assert result.success
    assert recommender_metadata(result)["promoted"] is False
    assert workspace.mlflow_tracking.champion(RECOMMENDER_MODEL) is None
    assert not workspace.lakehouse.exists(GOLD_RECOMMENDATIONS)
    assert not workspace.lakehouse.exists(GOLD_SIMILAR_PRODUCTS)


def test_one_review_per_reviewer_is_reported_and_the_dashboard_still_runs(
    tmp_path: Path,
) -> None:
    workspace = make_workspace(tmp_path)
    # `review(n)` gives every review its own reviewer: nobody has a history to hold out.
    workspace.write_landing_file(
        "amazon_reviews/partition_1/a.json.gz", [review(n) for n in range(30)]
    )
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, workspace.landing)
        materialize_all(instance, workspace)
        result = run_recommender(workspace, instance, [AssetKey("dashboard")])
    assert result.success
    meta = recommender_metadata(result)
    assert meta["trained"] is False
    assert meta["reason"] == (
        "recommender cannot train on the data at hand: no reviewer has 3 or more reviews to "
        "hold one out"
    )
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity.value == "WARN"
    assert check.description == meta["reason"]
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey("dashboard") in materialized
    assert workspace.mlflow_tracking.champion(RECOMMENDER_MODEL) is None
