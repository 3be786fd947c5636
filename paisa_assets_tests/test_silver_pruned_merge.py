"""Silver is partitioned by landing folder: re-ingesting a folder MERGEs into its own partition
(and those whose copies it outranks) only, and a silver table written before (unpartitioned,
without `_review_key`) is migrated, every row kept."""

from __future__ import annotations

import shutil

import polars as pl
from dagster import DagsterInstance
from deltalake import DeltaTable, write_deltalake

from paisa_assets.resources.lakehouse import to_arrow
from paisa_assets.runner import sync_partitions
from paisa_assets.silver_merge import REVIEWS
from paisa_assets.tables import SILVER_REVIEWS
from paisa_assets.transforms.review_key import REVIEW_KEY
from paisa_assets.transforms.schemas import SILVER_REVIEWS_SCHEMA
from paisa_assets_tests.conftest import Workspace, review

FOLDERS = [f"partition_{n}" for n in range(4)]


def ingest(workspace: Workspace, instance: DagsterInstance, folder: str) -> None:
    sync_partitions(instance, workspace.landing)
    job = workspace.defs.resolve_job_def("reviews_ingest_job")
    assert job.execute_in_process(instance=instance, partition_key=folder).success


def write_folders(workspace: Workspace) -> None:
    for n, folder in enumerate(FOLDERS):
        workspace.write_landing_file(
            f"amazon_reviews/{folder}/part-0.json.gz", [review(100 * n + i) for i in range(6)]
        )


def test_reingesting_a_changed_folder_reads_only_its_partition(workspace: Workspace) -> None:
    write_folders(workspace)
    with DagsterInstance.ephemeral() as instance:
        for folder in FOLDERS:
            ingest(workspace, instance, folder)
        silver = DeltaTable(workspace.lakehouse.uri(SILVER_REVIEWS))
        assert silver.metadata().partition_columns == ["_partition"]
        files = len(silver.file_uris())
        # partition_1 again: one rating changed, one review withdrawn.
        records = [review(100 + i) for i in range(6)]
        records[0]["overall"] = 1.0 if records[0]["overall"] != 1.0 else 2.0
        workspace.write_landing_file("amazon_reviews/partition_1/part-0.json.gz", records[:-1])
        ingest(workspace, instance, "partition_1")
    merge = DeltaTable(workspace.lakehouse.uri(SILVER_REVIEWS)).history(2)
    (commit,) = [c for c in merge if c["operation"] == "MERGE"][:1]
    metrics = commit["operationMetrics"]
    assert metrics["num_target_files_scanned"] == 1  # partition_1's file, of `files`
    assert metrics["num_target_files_skipped_during_scan"] == files - 1
    # The folder's 5 remaining rows are its new copies (new `_ingested_at`); one withdrawn.
    assert (metrics["num_target_rows_updated"], metrics["num_target_rows_deleted"]) == (5, 1)
    rows = workspace.lakehouse.read(SILVER_REVIEWS)
    assert rows.height == 23 and rows["review_id"].n_unique() == 23
    first = rows.filter(pl.col("reviewerID") == records[0]["reviewerID"])
    assert first["overall"].to_list() == [int(records[0]["overall"])]


def test_an_old_layout_silver_is_migrated_on_first_write(workspace: Workspace) -> None:
    # Written before silver was partitioned by `_partition` and held `_review_key`.
    write_folders(workspace)
    with DagsterInstance.ephemeral() as instance:
        for folder in FOLDERS[:3]:
            ingest(workspace, instance, folder)
        lake = workspace.lakehouse
        before = lake.read(SILVER_REVIEWS).sort("review_id")
        shutil.rmtree(lake.uri(SILVER_REVIEWS))
        write_deltalake(lake.uri(SILVER_REVIEWS), to_arrow(before.drop(REVIEW_KEY)))
        assert DeltaTable(lake.uri(SILVER_REVIEWS)).metadata().partition_columns == []
        ingest(workspace, instance, FOLDERS[3])
        # Migrated once: the next write finds the layout and rewrites nothing.
        version = lake.version(SILVER_REVIEWS)
        assert not lake.migrate(SILVER_REVIEWS, ["_partition"], REVIEWS.derived)
        assert lake.version(SILVER_REVIEWS) == version
    silver = DeltaTable(lake.uri(SILVER_REVIEWS))
    assert silver.metadata().partition_columns == ["_partition"]
    assert [f.name for f in silver.schema().fields] == SILVER_REVIEWS_SCHEMA.names()
    after = lake.read(SILVER_REVIEWS).sort("review_id")
    assert after.height == before.height + 6 and after["review_id"].n_unique() == after.height
    assert after.filter(pl.col("_partition") != FOLDERS[3]).equals(before)
    assert after[REVIEW_KEY].to_list() == [int(i, 16) - 2**63 for i in after["review_id"]]
