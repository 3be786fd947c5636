"""Ingestion behaviour on small hand-made landing files, through a real Dagster instance:
the sensor, Auto Loader-like incremental ingestion, quarantine and idempotent re-runs."""

from __future__ import annotations

import json
import os

import polars as pl
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    build_sensor_context,
)

from paisa_assets.runner import sync_partitions
from paisa_assets.sensors import gold_sensor
from paisa_assets.tables import (
    BRONZE_INGESTED_FILES,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
    GOLD_REVIEWS_ENRICHED,
    SILVER_METADATA,
    SILVER_QUARANTINE,
    SILVER_REVIEWS,
)
from paisa_assets_tests.conftest import Workspace, materialize_all, product, review
from paisa_assets_tests.support.landing import run_requests, skipped, tick

ALL_TABLES = [
    BRONZE_REVIEWS,
    BRONZE_QUARANTINE,
    BRONZE_INGESTED_FILES,
    SILVER_REVIEWS,
    SILVER_QUARANTINE,
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
    bronze_q = lake.read(BRONZE_QUARANTINE).to_dicts()
    assert [(q["_line"], q["reason"].split(":")[0], q["raw"]) for q in bronze_q] == [
        (5, "invalid JSON", '{"asin": "B1", "overall": 5.0, "revi')
    ]
    silver_q = lake.read(SILVER_QUARANTINE).sort("_line")
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
    assert workspace.lakehouse.count(BRONZE_QUARANTINE) == 1

    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz", [review(n) for n in range(3)]
    )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    materialize_all(instance, workspace)

    lake = workspace.lakehouse
    assert lake.count(BRONZE_REVIEWS) == 3
    assert lake.count(BRONZE_QUARANTINE) == 0
    assert lake.count(SILVER_REVIEWS) == 3
    assert lake.count(GOLD_REVIEWS_ENRICHED) == 3
    manifest = lake.read(BRONZE_INGESTED_FILES, where=pl.col("dataset") == "amazon_reviews")
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
