"""The whole graph over a generated landing zone, through a real Dagster instance: every table's
row count equals the generator's exact accounting, and a second run changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster import DagsterInstance

from paisa_assets import registry
from paisa_assets.generator import GenerationReport, generate_landing_zone
from paisa_assets.lake_views import count_view, read_view
from paisa_assets.runner import sync_partitions
from paisa_assets.tables import (
    BRONZE_INGESTED_FILES,
    BRONZE_METADATA,
    BRONZE_METADATA_FILES,
    BRONZE_METADATA_QUARANTINE,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_FILES,
    BRONZE_REVIEWS_QUARANTINE,
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_PRODUCT_SUMMARY,
    GOLD_REVIEWS_ENRICHED,
    GOLD_TABLES,
    SILVER_METADATA,
    SILVER_METADATA_QUARANTINE,
    SILVER_QUARANTINE,
    SILVER_REVIEWS,
    SILVER_REVIEWS_QUARANTINE,
)
from paisa_assets_tests.conftest import Workspace, make_workspace, materialize_all

# One pytest-xdist worker runs this module: its tests share a module-scoped fixture.
pytestmark = pytest.mark.xdist_group("test_pipeline_end_to_end")

ALL_TABLES = [
    BRONZE_REVIEWS,
    BRONZE_METADATA,
    BRONZE_REVIEWS_QUARANTINE,
    BRONZE_METADATA_QUARANTINE,
    BRONZE_REVIEWS_FILES,
    BRONZE_METADATA_FILES,
    SILVER_REVIEWS,
    SILVER_METADATA,
    SILVER_REVIEWS_QUARANTINE,
    SILVER_METADATA_QUARANTINE,
    *GOLD_TABLES,
]


@pytest.fixture(scope="module")
def lake(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Workspace, GenerationReport, DagsterInstance]]:
    workspace = make_workspace(tmp_path_factory.mktemp("e2e"))
    report = generate_landing_zone(
        workspace.landing_root,
        reviews=3_000,
        review_partitions=6,
        metadata_partitions=3,
        seed=11,
        progress=False,
    )
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, workspace.landing)
        materialize_all(instance, workspace)
        yield workspace, report, instance


def count(workspace: Workspace, table: str, **equals: str) -> int:
    where = pl.lit(True)
    for column, value in equals.items():
        where = where & (pl.col(column) == value)
    return count_view(workspace.lakehouse, table, where)


def test_bronze_holds_every_parsed_line_and_quarantines_the_rest(lake) -> None:
    workspace, report, _ = lake
    assert report.reviews.malformed_lines >= 1 and report.metadata.malformed_lines >= 1
    assert count(workspace, BRONZE_REVIEWS) == report.reviews.parsed_rows
    assert count(workspace, BRONZE_METADATA) == report.metadata.parsed_rows
    assert count(workspace, BRONZE_QUARANTINE, dataset="amazon_reviews") == (
        report.reviews.malformed_lines
    )
    assert count(workspace, BRONZE_QUARANTINE, dataset="amazon_metadata") == (
        report.metadata.malformed_lines
    )
    reasons = read_view(workspace.lakehouse, BRONZE_QUARANTINE)["reason"].to_list()
    assert all(r.startswith(("invalid JSON", "not a JSON object")) for r in reasons)
    files = read_view(workspace.lakehouse, BRONZE_INGESTED_FILES)
    assert files.height == report.reviews.files + report.metadata.files
    assert (files["rows"] == 0).sum() == report.reviews.empty_files + report.metadata.empty_files


def test_bronze_rows_per_partition_match_the_landing_folders(lake) -> None:
    workspace, report, _ = lake
    per_partition = dict(
        workspace.lakehouse.read(BRONZE_REVIEWS).group_by("_partition").len().iter_rows()
    )
    expected = {
        name: folder["lines"] - folder["malformed_lines"]
        for name, folder in report.reviews.partitions.items()
    }
    assert per_partition == {k: v for k, v in expected.items() if v}


def test_silver_is_deduplicated_and_quarantines_contract_violations(lake) -> None:
    workspace, report, _ = lake
    assert count(workspace, SILVER_REVIEWS) == report.reviews.unique_keys == 3_000
    assert count(workspace, SILVER_METADATA) == report.metadata.unique_keys
    quarantine = read_view(workspace.lakehouse, SILVER_QUARANTINE)
    reviews_q = quarantine.filter(pl.col("dataset") == "amazon_reviews")
    assert reviews_q.height == report.reviews.contract_violations
    assert set(reviews_q["reason"]) >= {
        "missing asin",
        "missing reviewerID",
    }
    assert any(r.startswith("overall out of range") for r in reviews_q["reason"])
    metadata_q = quarantine.filter(pl.col("dataset") == "amazon_metadata")
    assert metadata_q["reason"].to_list() == ["missing asin"] * report.metadata.contract_violations
    silver = workspace.lakehouse.read(SILVER_REVIEWS)
    assert silver["review_id"].n_unique() == silver.height
    assert silver.select(pl.struct("reviewerID", "asin").n_unique()).item() == silver.height
    # bronze = silver + quarantined + duplicates, with the generator's own duplicate count
    assert report.reviews.parsed_rows == (
        silver.height + reviews_q.height + report.reviews.duplicate_rows
    )


def test_silver_metadata_is_clean(lake) -> None:
    workspace, _, _ = lake
    metadata = workspace.lakehouse.read(SILVER_METADATA)
    for column in ("main_cat", "title", "brand"):
        values = metadata[column].drop_nulls()
        assert not values.str.contains("<|&amp;|&quot;").any(), column
    assert metadata["main_cat"].null_count() == 0  # empty main_cat falls back to the category
    assert (
        metadata.filter(pl.col("price_invalid"))["price"].null_count()
        == metadata.filter(pl.col("price_invalid")).height
    )
    assert metadata.filter(pl.col("price_raw").str.contains(" - "))["price_min"].null_count() == 0


def test_gold_joins_every_review_and_imputes_prices(lake) -> None:
    workspace, report, _ = lake
    gold = workspace.lakehouse.read(GOLD_REVIEWS_ENRICHED)
    assert gold.height == report.reviews.unique_keys
    assert gold["has_metadata"].sum() == report.reviews_with_metadata
    assert gold["price"].null_count() == 0
    imputed = gold.filter(pl.col("price_imputed"))
    assert imputed["listed_price"].null_count() == imputed.height
    assert (
        gold.filter(~pl.col("price_imputed"))["price"]
        == gold.filter(~pl.col("price_imputed"))["listed_price"]
    ).all()
    assert set(gold["source"]) == {"batch"}
    assert (gold["year"] == gold["review_date"].dt.year()).all()


def test_gold_aggregates_agree_with_reviews_enriched(lake) -> None:
    workspace, report, _ = lake
    gold = workspace.lakehouse.read(GOLD_REVIEWS_ENRICHED)
    kpis = workspace.lakehouse.read(GOLD_KPIS).row(0, named=True)
    assert kpis["reviews"] == report.reviews.unique_keys
    assert kpis["reviewers"] == gold["reviewer_id"].n_unique()
    assert kpis["products"] == gold["asin"].n_unique()
    assert kpis["avg_rating"] == pytest.approx(gold["rating"].mean())
    products = workspace.lakehouse.read(GOLD_PRODUCT_SUMMARY)
    assert products["reviews"].sum() == gold.height
    assert products.height == gold["asin"].n_unique()
    months = workspace.lakehouse.read(GOLD_CATEGORY_MONTHLY)
    assert months["reviews"].sum() == gold.height


def test_warehouse_exposes_gold_to_sql(lake) -> None:
    workspace, report, _ = lake
    with duckdb.connect(str(workspace.warehouse.database_path()), read_only=True) as con:
        (reviews,) = con.execute("select reviews from gold.kpis").fetchone()
        (rows,) = con.execute("select count(*) from gold.reviews_enriched").fetchone()
    assert reviews == rows == report.reviews.unique_keys


def test_generation_report_is_saved_beside_the_data(lake) -> None:
    workspace, report, _ = lake
    saved = (Path(workspace.landing_root) / "_generation_report.json").read_text()
    assert GenerationReport.from_json(saved) == report


def test_running_everything_again_changes_no_table(lake) -> None:
    workspace, _, instance = lake
    before = workspace.versions(ALL_TABLES)
    materialize_all(instance, workspace)
    assert workspace.versions(ALL_TABLES) == before


def test_every_table_on_disk_has_the_columns_types_and_layout_the_registry_declares(lake) -> None:
    workspace, _, _ = lake
    written = [table for table in registry.TABLES if workspace.lakehouse.exists(table)]
    assert len(written) >= 14  # batch bronze, silver and their side tables, gold
    for table in written:
        on_disk = workspace.lakehouse.scan(table).collect_schema()
        assert dict(on_disk) == dict(registry.table(table).polars_schema()), table
        layout = workspace.lakehouse.delta_table(table).metadata().partition_columns
        assert tuple(layout) == registry.table(table).delta_partition_by, table
