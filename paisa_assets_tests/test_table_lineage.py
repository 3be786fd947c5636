"""Every Delta table is an asset with exactly one writer, and lakes written when quarantine,
manifest and model evaluations were shared tables migrate without losing a row."""

from __future__ import annotations

import shutil

import duckdb
import polars as pl
from dagster import AssetCheckKey, AssetKey, DagsterInstance
from deltalake import write_deltalake

from paisa_assets import registry
from paisa_assets.dashboard.session import DASHBOARD_INPUTS, dashboard_session
from paisa_assets.definitions import defs
from paisa_assets.lake_views import LEGACY_SLICES, read_view
from paisa_assets.runner import sync_partitions
from paisa_assets.tables import (
    ALL_TABLES,
    BRONZE_INGESTED_FILES,
    BRONZE_METADATA_FILES,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_FILES,
    BRONZE_REVIEWS_QUARANTINE,
    SILVER_QUARANTINE,
    SILVER_REVIEWS_QUARANTINE,
    UNION_VIEWS,
    asset_key,
)
from paisa_assets_tests.conftest import Workspace, materialize_all, product, review


def test_every_table_is_an_asset_with_exactly_one_writer() -> None:
    graph = defs.resolve_asset_graph()
    writers: dict[AssetKey, list[str]] = {}
    for assets_def in graph.assets_defs:
        if not assets_def.is_executable:
            continue
        for key in assets_def.keys:
            writers.setdefault(key, []).append(assets_def.node_def.name)
    for table in ALL_TABLES:
        # ... and it is the writer the registry names (multi-assets take their tables from it).
        assert writers.get(asset_key(table)) == [registry.table(table).writer], table
    # The views over several tables are no asset (and no table) of their own.
    for view in UNION_VIEWS:
        assert asset_key(view) not in writers, view


def test_each_writer_holds_the_pool_of_its_main_table() -> None:
    graph = defs.resolve_asset_graph()
    pools = {
        key: assets_def.node_def.pools
        for assets_def in graph.assets_defs
        if assets_def.is_executable
        for key in assets_def.keys
    }
    for table in (BRONZE_REVIEWS_QUARANTINE, BRONZE_REVIEWS_FILES):
        assert pools[asset_key(table)] == {BRONZE_REVIEWS}
    assert pools[asset_key(SILVER_REVIEWS_QUARANTINE)] == {"silver.amazon_reviews"}


def test_the_dashboard_depends_on_every_table_it_reads() -> None:
    graph = defs.resolve_asset_graph()
    parents = graph.get(AssetKey("dashboard")).parent_keys
    assert {asset_key(t) for t in DASHBOARD_INPUTS} <= parents
    for table in (BRONZE_REVIEWS, *UNION_VIEWS[BRONZE_QUARANTINE], *UNION_VIEWS[SILVER_QUARANTINE]):
        assert asset_key(table) in parents, table


def legacy_lake(workspace: Workspace) -> dict[str, pl.DataFrame]:
    """Turn the split tables back into the shared tables of an older lake (partitioned by
    dataset, as they were), delete the split ones, and return what each held."""
    lake = workspace.lakehouse
    held = {table: lake.read(table) for table in LEGACY_SLICES if lake.exists(table)}
    for legacy in {legacy for legacy, _, _ in LEGACY_SLICES.values()}:
        parts = [frame for table, frame in held.items() if LEGACY_SLICES[table][0] == legacy]
        if parts:
            write_deltalake(
                lake.uri(legacy),
                pl.concat(parts).to_arrow(),
                partition_by=[LEGACY_SLICES[t][1] for t in held if LEGACY_SLICES[t][0] == legacy][
                    :1
                ],
            )
    for table in held:
        shutil.rmtree(lake.uri(table))
    return held


def sorted_rows(frame: pl.DataFrame) -> list[tuple]:
    frame = frame.drop("_ingested_at", strict=False)
    return sorted(frame.select(sorted(frame.columns)).rows(), key=repr)


def test_a_lake_with_shared_tables_migrates_on_first_write_and_loses_nothing(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz",
        [review(1), review(2), review(3, overall=9.0)],
        raw_lines=(b'{"asin": "B1", "revi',),
    )
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-00000.json.gz",
        [product(1)],
        raw_lines=(b"not json",),
    )
    sync_partitions(instance, workspace.landing)
    materialize_all(instance, workspace)
    lake = workspace.lakehouse
    before = {
        view: sorted_rows(read_view(lake, view))
        for view in UNION_VIEWS
        if view in (BRONZE_QUARANTINE, SILVER_QUARANTINE, BRONZE_INGESTED_FILES)
    }
    assert len(before[BRONZE_QUARANTINE]) == 2
    assert len(before[SILVER_QUARANTINE]) == 1
    assert len(before[BRONZE_INGESTED_FILES]) == 2

    held = legacy_lake(workspace)
    assert not lake.exists(BRONZE_REVIEWS_FILES)
    # Readers see the old tables' slices until the writers run.
    for view, rows in before.items():
        assert sorted_rows(read_view(lake, view)) == rows, view
    bronze_version = lake.version(BRONZE_REVIEWS)
    with dashboard_session(lake, workspace.warehouse) as con:
        assert con.execute("SELECT count(*) FROM bronze_quarantine").fetchone() == (2,)
        assert con.execute("SELECT count(*) FROM silver_quarantine").fetchone() == (1,)

    materialize_all(instance, workspace)
    for table, frame in held.items():
        assert lake.exists(table), table
        assert sorted_rows(lake.read(table)) == sorted_rows(frame), table
    for view, rows in before.items():
        assert sorted_rows(read_view(lake, view)) == rows, view
    # The migrated manifest is honoured: no file was ingested again.
    assert lake.version(BRONZE_REVIEWS) == bronze_version
    assert lake.count(BRONZE_METADATA_FILES) == 1


def test_the_warehouse_shows_each_quarantine_table_and_a_view_over_each_layer(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz",
        [review(1), review(2, overall=0.0)],
        raw_lines=(b"{",),
    )
    workspace.write_landing_file("amazon_metadata/partition_0/part-00000.json.gz", [product(1)])
    sync_partitions(instance, workspace.landing)
    materialize_all(instance, workspace)
    # The checks of the tables' assets ran with them (the manifests' own included).
    for table, name in (
        (BRONZE_REVIEWS_FILES, "unique_not_null__source_file"),
        (BRONZE_METADATA_FILES, "unique_not_null__source_file"),
        ("silver.amazon_reviews", "reconciles_with_bronze"),
        ("bronze.amazon_reviews", "every_landing_file_readable"),
    ):
        record = instance.get_latest_asset_check_evaluation_record(
            AssetCheckKey(asset_key(table), name)
        )
        assert record is not None and record.evaluation.passed, (table, name)
    with duckdb.connect(str(workspace.warehouse.database_path()), read_only=True) as con:
        views = dict(
            con.sql(
                "SELECT table_schema || '.' || table_name, table_type "
                "FROM information_schema.tables"
            ).fetchall()
        )
        assert views[BRONZE_QUARANTINE] == "VIEW"
        assert con.sql("SELECT dataset, _line FROM bronze.quarantine").fetchall() == [
            ("amazon_reviews", 3)
        ]
        assert con.sql("SELECT dataset, _line FROM silver.quarantine").fetchall() == [
            ("amazon_reviews", 2)
        ]
        single = con.execute("SELECT count(*) FROM bronze.amazon_reviews_quarantine").fetchone()
        assert single == (1,)


def test_a_manifest_listing_a_file_twice_fails_its_check(workspace: Workspace) -> None:
    from dagster import build_op_context

    from paisa_assets.checks_tables import side_table_checks

    (check,) = [
        c
        for c in side_table_checks
        if any(k.asset_key == asset_key(BRONZE_REVIEWS_FILES) for k in c.check_keys)
    ]
    uri = workspace.lakehouse.uri(BRONZE_REVIEWS_FILES)
    write_deltalake(uri, pl.DataFrame({"_source_file": ["a.json", "b.json"]}).to_arrow())
    good = check(build_op_context(), lakehouse=workspace.lakehouse, warehouse=workspace.warehouse)
    assert good.passed
    write_deltalake(uri, pl.DataFrame({"_source_file": ["a.json"]}).to_arrow(), mode="append")
    bad = check(build_op_context(), lakehouse=workspace.lakehouse, warehouse=workspace.warehouse)
    assert not bad.passed
    assert bad.metadata["duplicate_rows"].value == 1
