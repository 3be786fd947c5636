"""Ingestion behaviour on small hand-made landing files, through a real Dagster instance:
the sensor, Auto Loader-like incremental ingestion, quarantine and idempotent re-runs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetKey,
    AssetMaterialization,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    build_sensor_context,
)

# A run's materialization event, as its step would write it (Dagster exports no public way).
from dagster._core.events import StepMaterializationData

from paisa_assets.lake_views import count_view, read_view
from paisa_assets.partitions import range_tags
from paisa_assets.pools import pools_of, register_pools
from paisa_assets.runner import sync_partitions
from paisa_assets.sensors import gold_sensor, landing_zone_sensor
from paisa_assets.tables import (
    BRONZE_INGESTED_FILES,
    BRONZE_METADATA_FILES,
    BRONZE_METADATA_QUARANTINE,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_FILES,
    BRONZE_REVIEWS_QUARANTINE,
    GOLD_REVIEWS_ENRICHED,
    SILVER_METADATA,
    SILVER_METADATA_QUARANTINE,
    SILVER_QUARANTINE,
    SILVER_REVIEWS,
    SILVER_REVIEWS_QUARANTINE,
)
from paisa_assets_tests.conftest import Workspace, materialize_all, product, review
from paisa_assets_tests.support.landing import run_requests, skipped, tick

ALL_TABLES = [
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_QUARANTINE,
    BRONZE_METADATA_QUARANTINE,
    BRONZE_REVIEWS_FILES,
    BRONZE_METADATA_FILES,
    SILVER_REVIEWS,
    SILVER_REVIEWS_QUARANTINE,
    SILVER_METADATA_QUARANTINE,
    SILVER_METADATA,
    GOLD_REVIEWS_ENRICHED,
]


def test_malformed_line_is_quarantined_with_reason_while_the_rest_lands(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz",
        [review(1), review(2), review(3, overall=9.0), review(4, asin=None)],
        raw_lines=(b'{"asin": "B1", "overall": 5.0, "revi',),
    )
    workspace.write_landing_file("amazon_metadata/partition_0/part-00000.json.gz", [product(1)])
    sync_partitions(instance, workspace.landing)
    materialize_all(instance, workspace)

    lake = workspace.lakehouse
    assert lake.count(BRONZE_REVIEWS) == 4
    bronze_q = read_view(lake, BRONZE_QUARANTINE).to_dicts()
    assert [(q["_line"], q["reason"].split(":")[0], q["raw"]) for q in bronze_q] == [
        (5, "invalid JSON", '{"asin": "B1", "overall": 5.0, "revi')
    ]
    silver_q = read_view(lake, SILVER_QUARANTINE).sort("_line")
    assert silver_q.select("_line", "reason").rows() == [
        (3, "overall out of range: 9.0"),
        (4, "missing asin"),
    ]
    assert sorted(lake.read(SILVER_REVIEWS)["reviewerID"]) == [
        review(1)["reviewerID"],
        review(2)["reviewerID"],
    ]
    assert lake.count(GOLD_REVIEWS_ENRICHED) == 2


def test_rerun_changes_no_table_and_duplicates_across_partitions_are_dropped(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz", [review(n) for n in range(10)]
    )
    # Reviews 5..9 arrive again in another folder, with another summary (near duplicates).
    workspace.write_landing_file(
        "amazon_reviews/partition_1/part-00000.json.gz",
        [review(n, summary="again") for n in range(5, 15)],
    )
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-00000.json.gz", [product(n) for n in range(7)]
    )
    sync_partitions(instance, workspace.landing)
    materialize_all(instance, workspace)
    silver = workspace.lakehouse.read(SILVER_REVIEWS)
    assert silver.height == 15
    assert silver["review_id"].n_unique() == 15
    # First arrival wins: the copies from partition_0 are kept.
    assert silver.filter(pl.col("summary") == "again").height == 5
    assert set(silver.filter(pl.col("summary") == "again")["_partition"]) == {"partition_1"}

    before = workspace.versions(ALL_TABLES)
    contents = {
        t: workspace.lakehouse.read(t).drop("_ingested_at", strict=False) for t in ALL_TABLES
    }
    materialize_all(instance, workspace)
    assert workspace.versions(ALL_TABLES) == before
    for table, frame in contents.items():
        assert workspace.lakehouse.read(table).drop("_ingested_at", strict=False).equals(frame)


def test_sensor_picks_up_a_new_file_in_a_known_partition_once(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz", [review(n) for n in range(5)]
    )
    workspace.write_landing_file("amazon_metadata/partition_0/part-00000.json.gz", [product(1)])

    first = tick(workspace, instance)
    requests = run_requests(workspace, instance, first)
    assert sorted(r.partition_key for r in requests) == ["partition_0", "partition_0"]
    assert sorted(r.job_name for r in requests) == ["metadata_ingest_job", "reviews_ingest_job"]
    cursor = first.cursor

    idle = tick(workspace, instance, cursor)
    assert skipped(idle)

    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00001.json.gz", [review(n) for n in range(100, 103)]
    )
    second = tick(workspace, instance, cursor)
    requests = run_requests(workspace, instance, second)
    assert [(r.job_name, r.partition_key) for r in requests] == [
        ("reviews_ingest_job", "partition_0")
    ]
    assert skipped(tick(workspace, instance, second.cursor))

    bronze = workspace.lakehouse.read(BRONZE_REVIEWS)
    assert bronze.height == 8
    assert bronze.group_by("_source_file").len().sort("_source_file").rows() == [
        ("amazon_reviews/partition_0/part-00000.json.gz", 5),
        ("amazon_reviews/partition_0/part-00001.json.gz", 3),
    ]
    # The first file was not ingested a second time: one _ingested_at per file.
    assert bronze.group_by("_source_file").agg(pl.col("_ingested_at").n_unique())[
        "_ingested_at"
    ].to_list() == [1, 1]
    assert workspace.lakehouse.count(SILVER_REVIEWS) == 8


def test_sensor_trusts_the_tables_when_its_cursor_is_lost(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz", [review(n) for n in range(5)]
    )
    run_requests(workspace, instance, tick(workspace, instance))
    # A fresh cursor: the manifest says everything is ingested, so nothing is requested.
    assert skipped(tick(workspace, instance, cursor=None))
    assert skipped(tick(workspace, instance, cursor=json.dumps({})))


def test_a_changed_file_replaces_its_rows_and_can_withdraw_silver_rows(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    path = workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz",
        [review(n) for n in range(6)],
        raw_lines=(b"garbage",),
    )
    workspace.write_landing_file("amazon_metadata/partition_0/part-00000.json.gz", [product(1)])
    sync_partitions(instance, workspace.landing)
    materialize_all(instance, workspace)
    assert count_view(workspace.lakehouse, BRONZE_QUARANTINE) == 1

    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz", [review(n) for n in range(3)]
    )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    materialize_all(instance, workspace)

    lake = workspace.lakehouse
    assert lake.count(BRONZE_REVIEWS) == 3
    assert count_view(lake, BRONZE_QUARANTINE) == 0
    assert lake.count(SILVER_REVIEWS) == 3
    assert lake.count(GOLD_REVIEWS_ENRICHED) == 3
    manifest = read_view(lake, BRONZE_INGESTED_FILES, where=pl.col("dataset") == "amazon_reviews")
    assert manifest.select("rows", "quarantined").rows() == [(3, 0)]


def test_unknown_fields_are_rescued_not_dropped(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz",
        [review(1, helpful_ratio=0.5, locale={"lang": "en"})],
    )
    sync_partitions(instance, workspace.landing)
    materialize_all(instance, workspace)
    rescued = workspace.lakehouse.read(SILVER_REVIEWS)["_rescued_data"].to_list()
    assert [json.loads(r) for r in rescued] == [{"helpful_ratio": 0.5, "locale": {"lang": "en"}}]


def test_gold_sensor_requests_a_rebuild_only_when_silver_moved_on(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    def gold_tick():
        context = build_sensor_context(
            instance=instance, resources={"lakehouse": workspace.lakehouse}
        )
        return gold_sensor(context)

    assert "silver is empty" in gold_tick().skip_message
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz", [review(n) for n in range(3)]
    )
    sync_partitions(instance, workspace.landing)
    materialize_all(instance, workspace)
    assert "gold is up to date" in gold_tick().skip_message

    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00001.json.gz", [review(n) for n in range(10, 12)]
    )
    workspace.defs.resolve_job_def("reviews_ingest_job").execute_in_process(
        instance=instance, partition_key="partition_0"
    )
    request = gold_tick()
    assert isinstance(request, RunRequest)
    # No run key: a failed gold run must never make the same request impossible.
    assert request.run_key is None
    assert request.tags["paisa/silver_versions"] == (
        "silver.amazon_metadata@None,silver.amazon_reviews@2,silver.reviews_streaming@0"
    )

    # A gold run created but not started counts as a gold run: no second request (queued ones
    # too: the daemon test shows it).
    queued = instance.create_run_for_job(
        workspace.defs.resolve_job_def("gold_job"), status=DagsterRunStatus.NOT_STARTED
    )
    assert gold_tick().skip_message == "a gold run is already queued or running"
    instance.report_run_failed(queued, "test: the queued run failed")
    assert isinstance(gold_tick(), RunRequest)  # requested again after the failure

    # A failed blocking check on silver holds gold back, whatever silver's versions say.
    check = AssetCheckKey(AssetKey(["silver", "amazon_reviews"]), "reconciles_with_bronze")
    instance.report_runless_asset_event(
        AssetCheckEvaluation(asset_key=check.asset_key, check_name=check.name, passed=False)
    )
    skip = gold_tick().skip_message
    assert "silver/amazon_reviews:reconciles_with_bronze failed" in skip
    instance.report_runless_asset_event(
        AssetCheckEvaluation(asset_key=check.asset_key, check_name=check.name, passed=True)
    )
    assert isinstance(gold_tick(), RunRequest)

    # A run plans its checks when it is created. Until it writes silver the earlier verdict
    # holds (a stream of short runs must not starve gold); once it has written silver, gold
    # waits for its checks, and still waits when the run died before they ran (no silver row
    # goes unchecked); a run that failed before writing leaves the earlier verdict standing.
    reviews_job = workspace.defs.resolve_job_def("reviews_ingest_job")
    silver_run = instance.create_run_for_job(reviews_job, status=DagsterRunStatus.STARTED)
    assert isinstance(gold_tick(), RunRequest)
    instance.report_run_failed(silver_run, "test: the run died before writing silver")
    assert isinstance(gold_tick(), RunRequest)
    silver_run = instance.create_run_for_job(reviews_job, status=DagsterRunStatus.STARTED)
    instance.report_dagster_event(
        DagsterEvent(
            DagsterEventType.ASSET_MATERIALIZATION.value,
            job_name=silver_run.job_name,
            event_specific_data=StepMaterializationData(AssetMaterialization(check.asset_key)),
        ),
        silver_run.run_id,
    )
    assert "reconciles_with_bronze is still running" in gold_tick().skip_message
    instance.report_run_failed(silver_run, "test: the run died after silver, before its checks")
    assert "reconciles_with_bronze was not evaluated" in gold_tick().skip_message
    instance.report_runless_asset_event(
        AssetCheckEvaluation(asset_key=check.asset_key, check_name=check.name, passed=True)
    )
    assert "reconciles_with_bronze" not in str(gold_tick())


def ingest(
    workspace: Workspace, instance: DagsterInstance, job: str, *partitions: str
) -> dict[str, dict]:
    """One run of `job` over these folders (a range when there are several); every check must
    pass but warnings, returned with their metadata ({check name: metadata})."""
    definition = workspace.defs.resolve_job_def(job)
    if len(partitions) == 1:
        result = definition.execute_in_process(instance=instance, partition_key=partitions[0])
    else:
        tags = range_tags(partitions[0], partitions[-1])
        result = definition.execute_in_process(instance=instance, tags=tags)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert [e.check_name for e in evaluations if not e.passed and e.severity.value == "ERROR"] == []
    return {
        e.check_name: {k: v.value for k, v in e.metadata.items()}
        for e in evaluations
        if not e.passed
    }


def owners(workspace: Workspace, table: str, key: str) -> dict[str, str]:
    rows = workspace.lakehouse.read(table, columns=[key, "_partition"]).rows()
    return dict(rows)  # type: ignore[arg-type]


def test_a_withdrawn_key_promotes_the_copy_another_folder_still_holds(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    """The folder holding a key's winning copy stops holding it; only that folder is re-run.
    Silver keeps the key, now from the other folder, and the whole-table check agrees."""
    reviews_0 = workspace.write_landing_file(
        "amazon_reviews/partition_0/part-0.json.gz", [review(n) for n in range(10)]
    )
    workspace.write_landing_file(
        "amazon_reviews/partition_1/part-0.json.gz",
        [review(n, summary="again") for n in range(5, 15)],
    )
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-0.json.gz", [product(n) for n in range(7)]
    )
    metadata_1 = workspace.write_landing_file(
        "amazon_metadata/partition_1/part-0.json.gz",
        [product(n, title=f"New {n}") for n in range(3, 10)],
    )
    sync_partitions(instance, workspace.landing)
    ingest(workspace, instance, "reviews_ingest_job", "partition_0", "partition_1")
    ingest(workspace, instance, "metadata_ingest_job", "partition_0", "partition_1")
    lake = workspace.lakehouse
    assert lake.count(SILVER_REVIEWS) == 15 and lake.count(SILVER_METADATA) == 10
    review_owner = owners(workspace, SILVER_REVIEWS, "reviewerID")
    assert review_owner[review(5)["reviewerID"]] == "partition_0"  # first arrival
    assert owners(workspace, SILVER_METADATA, "asin")[product(3)["asin"]] == "partition_1"

    # The winning folders withdraw reviews 5, 6 and products 3, 4; only they run again.
    reviews_0.unlink()
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-0.json.gz",
        [review(n) for n in range(10) if n not in (5, 6)],
    )
    metadata_1.unlink()
    workspace.write_landing_file(
        "amazon_metadata/partition_1/part-0.json.gz",
        [product(n, title=f"New {n}") for n in range(5, 10)],
    )
    ingest(workspace, instance, "reviews_ingest_job", "partition_0")
    ingest(workspace, instance, "metadata_ingest_job", "partition_1")

    assert lake.count(SILVER_REVIEWS) == 15
    assert lake.count(SILVER_METADATA) == 10
    review_owner = owners(workspace, SILVER_REVIEWS, "reviewerID")
    assert [review_owner[review(n)["reviewerID"]] for n in (4, 5, 6, 7)] == [
        "partition_0",
        "partition_1",
        "partition_1",
        "partition_0",
    ]
    promoted = lake.read(SILVER_REVIEWS, where=pl.col("reviewerID") == review(5)["reviewerID"])
    assert promoted["summary"].to_list() == ["again"]
    product_owner = owners(workspace, SILVER_METADATA, "asin")
    assert [product_owner[product(n)["asin"]] for n in (2, 3, 4, 5)] == [
        "partition_0",
        "partition_0",
        "partition_0",
        "partition_1",
    ]
    titles = dict(lake.read(SILVER_METADATA, columns=["asin", "title"]).rows())
    assert [titles[product(n)["asin"]] for n in (3, 5)] == ["Product 3", "New 5"]
    # A re-run of either folder changes nothing.
    versions = workspace.versions([SILVER_REVIEWS, SILVER_METADATA])
    ingest(workspace, instance, "reviews_ingest_job", "partition_0", "partition_1")
    ingest(workspace, instance, "metadata_ingest_job", "partition_0", "partition_1")
    assert workspace.versions([SILVER_REVIEWS, SILVER_METADATA]) == versions


def write_overlapping_landing_zone(workspace: Workspace) -> None:
    """Folders partition_1, partition_2 and partition_10 (numeric and text order differ), each
    holding copies of the same reviews and products with different texts."""
    for folder in (1, 2, 10):
        workspace.write_landing_file(
            f"amazon_reviews/partition_{folder}/part-{folder}.json.gz",
            [review(n, summary=f"from {folder}") for n in range(folder, folder + 12)],
        )
        workspace.write_landing_file(
            f"amazon_metadata/partition_{folder}/part-{folder}.json.gz",
            [product(n, title=f"from {folder}") for n in range(folder, folder + 6)],
        )
    # Two files in one folder hold the same review: part-9 sorts before part-10 by length.
    workspace.write_landing_file(
        "amazon_reviews/partition_2/part-9.json.gz", [review(100, summary="part-9")]
    )
    workspace.write_landing_file(
        "amazon_reviews/partition_2/part-10.json.gz", [review(100, summary="part-10")]
    )


def test_the_winning_copy_does_not_depend_on_how_folders_were_grouped_into_runs(
    tmp_path, instance: DagsterInstance
) -> None:
    from paisa_assets_tests.conftest import make_workspace

    folders = ["partition_1", "partition_2", "partition_10"]
    silvers = {}
    for way in ("one backfill", "ascending", "descending"):
        workspace = make_workspace(tmp_path / way.replace(" ", "_"))
        write_overlapping_landing_zone(workspace)
        with DagsterInstance.ephemeral() as own:
            sync_partitions(own, workspace.landing)
            for job in ("reviews_ingest_job", "metadata_ingest_job"):
                if way == "one backfill":
                    ingest(workspace, own, job, *folders)
                else:
                    order = folders if way == "ascending" else folders[::-1]
                    for folder in order:
                        ingest(workspace, own, job, folder)
        lake = workspace.lakehouse
        silvers[way] = (
            lake.read(SILVER_REVIEWS).drop("_ingested_at").sort("review_id"),
            lake.read(SILVER_METADATA).drop("_ingested_at").sort("asin"),
        )
    reviews, metadata = silvers["one backfill"]
    for way in ("ascending", "descending"):
        assert silvers[way][0].equals(reviews), way
        assert silvers[way][1].equals(metadata), way
    # Reviews 1..21 and 100; the first position wins: partition_1 < partition_2 < partition_10.
    assert reviews.height == 22
    by_reviewer = dict(reviews.select("reviewerID", "summary").rows())
    assert [by_reviewer[review(n)["reviewerID"]] for n in (1, 12, 13, 21, 100)] == [
        "from 1",
        "from 1",
        "from 2",
        "from 10",
        "part-9",
    ]
    # Products 1..7 and 10..15; the last position wins.
    assert metadata.height == 13
    titles = dict(metadata.select("asin", "title").rows())
    assert [titles[product(n)["asin"]] for n in (1, 2, 6, 7, 10, 15)] == [
        "from 1",
        "from 2",
        "from 2",
        "from 2",
        "from 10",
        "from 10",
    ]


def test_a_same_size_rewrite_with_its_mtime_restored_is_ingested_again(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    path = workspace.write_landing_file(
        "amazon_reviews/partition_0/part-0.json.gz", [review(n, summary="AAAA") for n in range(3)]
    )
    sync_partitions(instance, workspace.landing)
    ingest(workspace, instance, "reviews_ingest_job", "partition_0")
    before = path.stat()
    [listed] = workspace.landing.list_files("amazon_reviews")
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-0.json.gz", [review(n, summary="BBBB") for n in range(3)]
    )
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    [relisted] = workspace.landing.list_files("amazon_reviews")
    assert relisted.fingerprint != listed.fingerprint
    ingest(workspace, instance, "reviews_ingest_job", "partition_0")
    summaries = workspace.lakehouse.read(SILVER_REVIEWS)["summary"].to_list()
    assert summaries == ["BBBB"] * 3


def test_each_partition_of_a_range_run_reports_its_own_counts(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    sizes = {"partition_1": 3, "partition_2": 5, "partition_10": 8}
    for folder, size in sizes.items():
        start = int(folder.split("_")[1]) * 100
        workspace.write_landing_file(
            f"amazon_reviews/{folder}/part-0.json.gz",
            [review(n) for n in range(start, start + size)] + [review(start, summary="dup")],
            raw_lines=(b"not json",),
        )
    sync_partitions(instance, workspace.landing)
    result = workspace.defs.resolve_job_def("reviews_ingest_job").execute_in_process(
        instance=instance,
        tags=range_tags("partition_1", "partition_10"),
    )
    assert result.success
    events = {
        (m.asset_key.to_user_string(), m.partition): {k: v.value for k, v in m.metadata.items()}
        for m in (e.materialization for e in result.get_asset_materialization_events())
    }
    # Each folder of each table the run writes: bronze, its quarantine and manifest, silver and
    # its quarantine.
    assert len(events) == 3 * 5
    assert {key for key, _ in events} == {
        "bronze/amazon_reviews",
        "bronze/amazon_reviews_quarantine",
        "bronze/amazon_reviews_ingested_files",
        "silver/amazon_reviews",
        "silver/amazon_reviews_quarantine",
    }
    assert events[("bronze/amazon_reviews_quarantine", "partition_2")]["dagster/row_count"] == 3
    for folder, size in sizes.items():
        bronze = events[("bronze/amazon_reviews", folder)]
        assert (bronze["partition_row_count"], bronze["rows_written"]) == (size + 1, size + 1)
        assert (bronze["rows_quarantined"], bronze["files_ingested"]) == (1, 1)
        assert bronze["table_row_count"] == 19
        assert "dagster/row_count" not in bronze  # a folder's figure would pass for the table's
        silver = events[("silver/amazon_reviews", folder)]
        assert silver["partition_row_count"] == silver["rows_written"] == size
        assert (silver["rows_in"], silver["rows_duplicates"]) == (size + 1, 1)
        assert silver["table_row_count"] == 16
    # The asset's row count (the UI takes it from the latest materialization, else the latest
    # observation) is the table's.
    for key, rows in (("bronze/amazon_reviews", 19), ("silver/amazon_reviews", 16)):
        latest = instance.get_latest_materialization_event(AssetKey.from_user_string(key))
        assert latest is not None
        assert "dagster/row_count" not in latest.asset_materialization.metadata
        [observation] = instance.fetch_observations(AssetKey.from_user_string(key), limit=1).records
        assert observation.asset_observation.metadata["dagster/row_count"].value == rows


def test_quarantine_tables_are_views_in_the_warehouse(
    workspace: Workspace, instance: DagsterInstance, monkeypatch
) -> None:
    from click.testing import CliRunner

    from paisa_assets.cli import main

    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-0.json.gz",
        [review(1), review(2, overall=9.0), review(3, asin=17)],
        raw_lines=(b"{broken",),
    )
    sync_partitions(instance, workspace.landing)
    materialize_all(instance, workspace)
    monkeypatch.setenv("PAISA_WAREHOUSE_PATH", str(workspace.warehouse.database_path()))
    bronze = CliRunner().invoke(
        main, ["sql", "select _line, reason from bronze.quarantine order by _line"]
    )
    assert bronze.exit_code == 0, bronze.output
    assert "asin is not a JSON string: a JSON number" in bronze.output
    assert "invalid JSON" in bronze.output
    import duckdb

    with duckdb.connect(str(workspace.warehouse.database_path()), read_only=True) as con:
        rows = con.sql("select _line, reason from bronze.quarantine order by _line").fetchall()
        assert [line for line, _ in rows] == [3, 4]
        silver = con.sql("select _line, reason from silver.quarantine").fetchall()
        assert silver == [(2, "overall out of range: 9.0")]


def test_unreadable_files_and_folders_are_contained_and_named(tmp_path, monkeypatch) -> None:
    """As a non-root user meets them: a file and a folder with mode 000. Tests run as root, for
    whom the OS ignores the mode, so the PermissionError a non-root user gets is raised where the
    OS would raise it (opening the file, listing the folder), from the real mode bits. The
    listing warns and goes on; the file is quarantined with its reason; every other file lands;
    once readable again (chmod also changes the ctime) the file is ingested."""
    import stat
    from pathlib import Path

    from paisa_assets.resources.landing_zone import LocalLandingZone
    from paisa_assets_tests.conftest import make_workspace

    def unreadable(path: Path) -> bool:
        return not path.stat().st_mode & (stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)

    class AsNonRootLandingZone(LocalLandingZone):
        def open(self, path: str):
            target = self._resolve(path)
            if unreadable(target):
                raise PermissionError(13, "Permission denied", str(target))
            return super().open(path)

    real_iterdir = Path.iterdir

    def iterdir(self: Path):
        if unreadable(self):
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    root = tmp_path / "lake"
    landing = AsNonRootLandingZone(root=str(root / "landing"))
    workspace = make_workspace(root, landing=landing)
    workspace.write_landing_file(
        "amazon_reviews/partition_0/a.json.gz", [review(n) for n in range(3)]
    )
    locked = workspace.write_landing_file(
        "amazon_reviews/partition_0/locked.json.gz", [review(n) for n in range(10, 12)]
    )
    folder = workspace.write_landing_file(
        "amazon_reviews/partition_1/b.json.gz", [review(n) for n in range(20, 22)]
    ).parent
    workspace.write_landing_file(
        "amazon_reviews/partition_2/c.json.gz", [review(n) for n in range(30, 32)]
    )
    locked.chmod(0)
    folder.chmod(0)
    broken = workspace.landing_root / "amazon_reviews" / "partition_2" / "gone.json.gz"
    broken.symlink_to(workspace.landing_root / "nowhere.json.gz")
    warnings: list[str] = []
    monkeypatch.setattr(
        "paisa_assets.resources.landing_zone.get_dagster_logger",
        lambda name: type("L", (), {"warning": staticmethod(warnings.append)})(),
    )
    listed = [f.path for f in landing.list_files("amazon_reviews")]
    assert listed == [
        "amazon_reviews/partition_0/a.json.gz",
        "amazon_reviews/partition_0/locked.json.gz",
        "amazon_reviews/partition_2/c.json.gz",
    ]
    assert warnings == [
        "skipped 'amazon_reviews/partition_1' in the landing zone: it cannot be read "
        "(PermissionError: Permission denied); it is listed again on the next tick",
        "skipped 'amazon_reviews/partition_2/gone.json.gz' in the landing zone: "
        "a broken symbolic link",
    ]
    folders = ("partition_0", "partition_1", "partition_2")
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, landing)
        warnings_raised = ingest(workspace, instance, "reviews_ingest_job", *folders)
        assert warnings_raised == {
            "every_landing_file_readable": {
                "unreadable_files": 1,
                "files": "amazon_reviews/partition_0/locked.json.gz "
                "(unreadable file: PermissionError: Permission denied)",
            }
        }
        lake = workspace.lakehouse
        assert lake.count(BRONZE_REVIEWS) == 5
        assert lake.count(SILVER_REVIEWS) == 5
        quarantine = read_view(lake, BRONZE_QUARANTINE).select("_source_file", "_line", "reason")
        assert quarantine.rows() == [
            (
                "amazon_reviews/partition_0/locked.json.gz",
                None,
                "unreadable file: PermissionError: Permission denied",
            )
        ]
        locked.chmod(0o644)
        folder.chmod(0o755)
        assert ingest(workspace, instance, "reviews_ingest_job", *folders) == {}
        assert lake.count(BRONZE_REVIEWS) == 9
        assert lake.count(SILVER_REVIEWS) == 9
        assert count_view(lake, BRONZE_QUARANTINE) == 0


def test_one_category_under_two_spellings_is_one_group_in_gold(
    workspace: Workspace, instance: DagsterInstance
) -> None:
    """The logo form ("AMAZON FASHION") and the category[0] fallback ("Amazon Fashion") are one
    category: one group in gold, and a missing price is imputed from that group's mean."""
    logo = '<img src="x.png" class="nav-categ-image" alt="AMAZON FASHION"/>'
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-0.json.gz",
        [
            product(1, main_cat=logo, price="$10.00"),
            product(2, main_cat="", category=["Amazon Fashion", "Women"], price="$30.00"),
            product(3, main_cat="amazon fashion", price=""),
            product(4, main_cat="Books", price="$100.00"),
        ],
    )
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-0.json.gz",
        [review(n, asin=product(n)["asin"]) for n in (1, 2, 3, 4)],
    )
    sync_partitions(instance, workspace.landing)
    materialize_all(instance, workspace)
    gold = workspace.lakehouse.read(GOLD_REVIEWS_ENRICHED).sort("asin")
    assert gold.select("main_cat", "price", "price_imputed").rows() == [
        ("Amazon Fashion", 10.0, False),
        ("Amazon Fashion", 30.0, False),
        ("Amazon Fashion", 20.0, True),
        ("Books", 100.0, False),
    ]


def test_the_landing_sensor_registers_every_pool_before_runs_are_queued(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Dagster's queue leaves a pool unlimited in the pass that first sees it: a new instance's
    first runs queued together would write one table at once, unless the pools are known."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(Path(__file__).resolve().parent.parent / "dagster.yaml", home / "dagster.yaml")
    repository = workspace.defs.get_repository_def()
    pools = pools_of(repository.assets_defs_by_key.values())
    assert {"bronze.amazon_reviews", "silver.amazon_reviews", "gold.reviews_enriched"} <= pools
    with DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert set(storage.get_concurrency_keys()) & pools == set()
        context = build_sensor_context(
            instance=instance,
            repository_def=repository,
            resources={"landing_zone": workspace.landing, "lakehouse": workspace.lakehouse},
        )
        landing_zone_sensor(context)
        assert set(storage.get_concurrency_keys()) >= pools
        infos = storage.get_concurrency_infos(sorted(pools))
        assert {info.slot_count for info in infos.values()} == {1}  # dagster.yaml's default
        assert register_pools(instance, pools) == []
