"""Delta maintenance: fewer files, the same rows, old versions still readable, the warehouse
still answering, and a retention that would break readers refused."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from dagster import (
    AssetCheckKey,
    DagsterInstance,
    ExecuteInProcessResult,
    RunRequest,
    SkipReason,
    build_sensor_context,
)
from deltalake import DeltaTable, write_deltalake

from paisa_assets.lake_views import LEGACY_TABLES, read_view
from paisa_assets.maintenance import check_retention
from paisa_assets.registry import TABLES
from paisa_assets.runner import sync_partitions
from paisa_assets.sensors import gold_sensor
from paisa_assets.tables import (
    ALL_TABLES,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_FILES,
    BRONZE_REVIEWS_QUARANTINE,
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_PRODUCT_SUMMARY,
    GOLD_REVIEWS_ENRICHED,
    SILVER_REVIEWS,
    SILVER_REVIEWS_QUARANTINE,
    UNION_VIEWS,
    asset_key,
)
from paisa_assets_tests.conftest import Workspace, materialize_all, product, review

GOLD_TABLES = (GOLD_REVIEWS_ENRICHED, GOLD_PRODUCT_SUMMARY, GOLD_CATEGORY_MONTHLY, GOLD_KPIS)


def ingest_folder_by_folder(workspace: Workspace, instance: DagsterInstance) -> None:
    """Six folders, each ingested by its own run: six small files per bronze partition set."""
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-00000.json.gz", [product(n) for n in range(7)]
    )
    for folder in range(6):
        workspace.write_landing_file(
            f"amazon_reviews/partition_{folder}/part-00000.json.gz",
            [review(folder * 10 + n) for n in range(5)],
        )
        sync_partitions(instance, workspace.landing)
        materialize_all(instance, workspace)


def outcomes(result: ExecuteInProcessResult) -> dict[str, dict]:
    """The maintenance's outcome per table (`lake_maintenance`'s metadata), by table."""
    (materialization,) = [
        m
        for m in result.asset_materializations_for_node("lake_maintenance")
        if m.asset_key.to_user_string() == "lake_maintenance"
    ]
    return {o["table"]: o for o in materialization.metadata["tables"].value}


def test_maintenance_compacts_every_table_and_changes_no_row(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    ingest_folder_by_folder(workspace, instance)
    lake = workspace.lakehouse
    contents = {t: lake.read(t) for t in ALL_TABLES if lake.exists(t)}

    job = workspace.defs.resolve_job_def("maintenance_job")
    result = job.execute_in_process(instance=instance)
    assert result.success
    per_table = outcomes(result)
    assert set(per_table) == set(contents)
    silver = per_table[SILVER_REVIEWS]
    # Silver is partitioned by landing folder: one MERGE per folder already writes one file per
    # partition, and compaction never merges files across partitions.
    folders = contents[SILVER_REVIEWS]["_partition"].n_unique()
    assert silver["files_after"] == folders == silver["files_before"]
    # The manifest gets one small file per ingestion run: compacted into one.
    manifest = per_table[BRONZE_REVIEWS_FILES]
    assert manifest["files_after"] == 1 < folders == manifest["files_before"]
    assert manifest["files_vacuumed"] == 0  # every replaced file is younger than the retention

    for table, frame in contents.items():
        after = lake.read(table)
        assert after.sort(after.columns).equals(frame.sort(frame.columns)), table
    # Readers of older versions still read them: time travel to the first commit works.
    first = DeltaTable(lake.uri(BRONZE_REVIEWS), version=1)
    assert first.to_pyarrow_dataset().count_rows() == 5
    with duckdb.connect(str(workspace.warehouse.database_path()), read_only=True) as con:
        assert con.execute("select reviews from gold.kpis").fetchall() == [(30,)]
    assert lake.read(GOLD_KPIS)["reviews"].to_list() == [30]

    # Nothing left to compact: a second run rewrites no file.
    again = job.execute_in_process(instance=instance)
    assert all(o["files_compacted"] == 0 for o in outcomes(again).values())


def test_maintenance_asks_for_no_gold_run_and_gold_stays_incremental(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    # Compaction, table properties and vacuum commit to every table without changing a row:
    # the gold sensor still finds gold up to date, a gold run writes nothing, the next
    # folder's checks look at that folder alone, and gold finds its record (a rebuild, or a
    # check of every folder, would cost the whole lake once a day).
    ingest_folder_by_folder(workspace, instance)
    ingest = workspace.defs.resolve_job_def("reviews_ingest_job")
    for folder in (7, 8):  # each quarantines a row: two files in the unpartitioned quarantine
        workspace.write_landing_file(
            f"amazon_reviews/partition_{folder}/part-00000.json.gz",
            [*(review(folder * 10 + n) for n in range(4)), review(folder * 10 + 9, overall=None)],
        )
        sync_partitions(instance, workspace.landing)
        result = ingest.execute_in_process(instance=instance, partition_key=f"partition_{folder}")
        assert result.success
    materialize_all(instance, workspace)
    lake = workspace.lakehouse
    silver_before = lake.version(SILVER_REVIEWS)
    # As tables written before the lakehouse's properties: the maintenance sets them.
    for table in (SILVER_REVIEWS, *GOLD_TABLES):
        DeltaTable(lake.uri(table)).alter.set_table_properties({"delta.checkpointInterval": "100"})
    gold_before = {table: lake.version(table) for table in GOLD_TABLES}
    maintenance = workspace.defs.resolve_job_def("maintenance_job")
    result = maintenance.execute_in_process(instance=instance)
    assert result.success
    assert outcomes(result)[SILVER_REVIEWS_QUARANTINE]["files_compacted"] == 2
    assert lake.version(SILVER_REVIEWS) == silver_before + 2  # two property commits
    assert all(lake.version(table) > gold_before[table] for table in GOLD_TABLES)
    assert lake.data_version(SILVER_REVIEWS) == silver_before

    def gold_tick() -> SkipReason | RunRequest:
        context = build_sensor_context(instance=instance, resources={"lakehouse": lake})
        return gold_sensor(context)

    tick = gold_tick()
    assert isinstance(tick, SkipReason) and "gold is up to date" in str(tick.skip_message)
    gold_versions = {table: lake.version(table) for table in GOLD_TABLES}
    gold = workspace.defs.resolve_job_def("gold_job")
    assert gold.execute_in_process(instance=instance).success
    assert {table: lake.version(table) for table in GOLD_TABLES} == gold_versions

    workspace.write_landing_file(
        "amazon_reviews/partition_6/part-00000.json.gz", [review(60 + n) for n in range(5)]
    )
    sync_partitions(instance, workspace.landing)
    assert ingest.execute_in_process(instance=instance, partition_key="partition_6").success
    reconciled = instance.get_latest_asset_check_evaluation_record(
        AssetCheckKey(asset_key(SILVER_REVIEWS), "reconciles_with_bronze")
    )
    assert reconciled is not None and reconciled.evaluation is not None
    assert reconciled.evaluation.passed
    checked = reconciled.evaluation.metadata["landing_folders"].value
    assert checked == "1 changed: partition_6"  # not the folders whose quarantine was compacted
    assert isinstance(gold_tick(), RunRequest)
    assert gold.execute_in_process(instance=instance).success
    for table in GOLD_TABLES:
        event = instance.get_latest_materialization_event(asset_key(table))
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
        # A lake this small is rebuilt from by design; the point is that the last build's
        # record was found behind the maintenance's commits.
        assert metadata["build"].value == "rebuild", table
        assert str(metadata["build_reason"].value).startswith("small inputs ("), table
    assert lake.read(GOLD_KPIS)["reviews"].to_list() == [43]


def test_a_retention_that_would_break_readers_is_refused_with_a_reason(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    with pytest.raises(ValueError, match="readers of recent versions"):
        check_retention(0)
    result = workspace.defs.resolve_job_def("maintenance_job").execute_in_process(
        instance=instance,
        run_config={"ops": {"lake_maintenance": {"config": {"retention_hours": 0}}}},
        raise_on_error=False,
    )
    assert not result.success


def test_the_old_shared_tables_are_compacted_while_they_exist(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    """A lake from before the split still holds `bronze.quarantine`: the union view reads its
    rows until bronze runs again, so maintenance compacts and vacuums it like any table."""
    lake = workspace.lakehouse
    schema = TABLES[BRONZE_REVIEWS_QUARANTINE].polars_schema()
    for line in range(3):  # one commit, one small file, per old ingestion run
        rows = pl.DataFrame(
            [
                {
                    "dataset": "amazon_reviews",
                    "_partition": "partition_0",
                    "_source_file": f"amazon_reviews/partition_0/part-0000{line}.json.gz",
                    "_line": 1,
                    "raw": "not json",
                    "reason": "invalid JSON",
                    "_ingested_at": None,
                }
            ],
            schema=schema,
        )
        write_deltalake(lake.uri(BRONZE_QUARANTINE), rows.to_arrow(), mode="append")
    before = read_view(lake, BRONZE_QUARANTINE).sort("_source_file")
    assert before.height == 3 and not lake.exists(BRONZE_REVIEWS_QUARANTINE)

    result = workspace.defs.resolve_job_def("maintenance_job").execute_in_process(instance=instance)
    assert result.success
    per_table = outcomes(result)
    # Only the tables on disk: the other old tables (and every new one) do not exist here.
    assert set(per_table) == {BRONZE_QUARANTINE}
    legacy = per_table[BRONZE_QUARANTINE]
    assert (legacy["files_before"], legacy["files_after"], legacy["files_compacted"]) == (3, 1, 3)
    assert legacy["version_after"] > legacy["version_before"] == 2
    assert read_view(lake, BRONZE_QUARANTINE).sort("_source_file").equals(before)
    assert set(LEGACY_TABLES) == set(UNION_VIEWS)
