"""Blocking checks look at what a run changed (the Delta files added and removed since their last
pass), still fail whenever data is lost, and check everything again after a failure or in the
periodic full reconciliation."""

from __future__ import annotations

import polars as pl
import pytest
from dagster import AssetCheckKey, DagsterInstance, build_schedule_context
from deltalake import DeltaTable, write_deltalake

from paisa_assets.check_scope import FULL_CHECK_TAG
from paisa_assets.resources.lakehouse import Lakehouse, to_arrow
from paisa_assets.runner import sync_partitions
from paisa_assets.tables import (
    BRONZE_REVIEWS,
    GOLD_REVIEWS_ENRICHED,
    SILVER_REVIEWS,
    asset_key,
)
from paisa_assets.transforms.review_key import REVIEW_KEY, review_key
from paisa_assets_tests.conftest import Workspace, product, review

RECONCILES = AssetCheckKey(asset_key(SILVER_REVIEWS), "reconciles_with_bronze")
UNIQUE = AssetCheckKey(asset_key(SILVER_REVIEWS), "unique_not_null_review_id")
PAIR = AssetCheckKey(asset_key(SILVER_REVIEWS), "unique_not_null_reviewerid_asin")


def evaluation(instance: DagsterInstance, key: AssetCheckKey) -> dict[str, object]:
    record = instance.get_latest_asset_check_evaluation_record(key)
    assert record is not None and record.evaluation is not None
    metadata = {name: value.value for name, value in record.evaluation.metadata.items()}
    return {"passed": record.evaluation.passed, **metadata}


@pytest.fixture
def lake(workspace: Workspace):
    """Three landing folders of 5 reviews each; the first two ingested."""
    for folder in range(3):
        workspace.write_landing_file(
            f"amazon_reviews/partition_{folder}/part-0.json.gz",
            [review(100 * folder + n) for n in range(5)],
        )
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, workspace.landing)
        for folder in ("partition_0", "partition_1"):
            assert ingest(workspace, instance, folder)
        yield workspace, instance


def ingest(workspace: Workspace, instance: DagsterInstance, folder: str, **tags: str) -> bool:
    job = workspace.defs.resolve_job_def("reviews_ingest_job")
    return job.execute_in_process(
        instance=instance, partition_key=folder, tags=tags, raise_on_error=False
    ).success


def test_a_new_folder_is_checked_alone(lake) -> None:
    workspace, instance = lake
    assert ingest(workspace, instance, "partition_2")
    reconciled = evaluation(instance, RECONCILES)
    assert reconciled["passed"]
    assert str(reconciled["scope"]).startswith("changes: ")
    assert reconciled["landing_folders"] == "1 changed: partition_2"
    assert (reconciled["bronze_rows"], reconciled["silver_rows"]) == (5, 5)
    unique = evaluation(instance, UNIQUE)
    assert unique["passed"] and str(unique["scope"]).startswith("changes: ")
    assert (unique["rows_checked"], unique["rows"]) == (5, 15)


def test_folders_named_with_quotes_spaces_and_percents_are_checked_on_changes(
    workspace: Workspace,
) -> None:
    # Their partition folders are percent-encoded on disk, and again in the Delta log: the
    # checks must find the changed files by the names on disk, or every check goes full.
    folders = ["it's a", "50% off", "b c"]
    for n, folder in enumerate(folders):
        workspace.write_landing_file(
            f"amazon_reviews/{folder}/part-0.json.gz", [review(100 * n + i) for i in range(5)]
        )
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, workspace.landing)
        for folder in folders:
            assert ingest(workspace, instance, folder)
        reconciled = evaluation(instance, RECONCILES)
        assert str(reconciled["scope"]).startswith("changes: ")
        assert reconciled["landing_folders"] == f"1 changed: {folders[-1]}"
        unique = evaluation(instance, UNIQUE)
        assert unique["passed"] and (unique["rows_checked"], unique["rows"]) == (5, 15)


def test_a_duplicate_whose_first_copy_is_in_another_folder_reconciles(lake) -> None:
    # Its silver row sits in partition_0 (the first arrival), looked up there by silver's
    # trimmed key; the bronze copy's padded key is trimmed before the lookup.
    workspace, instance = lake
    first = review(2)
    workspace.write_landing_file(
        "amazon_reviews/partition_2/part-1.json.gz",
        [review(2, reviewerID=f"  {first['reviewerID']} ", overall=1.0)],
    )
    assert ingest(workspace, instance, "partition_2")
    reconciled = evaluation(instance, RECONCILES)
    assert reconciled["passed"] and str(reconciled["scope"]).startswith("changes: ")
    assert reconciled["landing_folders"] == "1 changed: partition_2"
    assert (reconciled["bronze_rows"], reconciled["silver_rows"]) == (6, 5)
    # Six distinct valid keys in the folder's bronze; silver holds one of them elsewhere.
    assert reconciled["distinct_valid_keys_in_bronze"] == 6
    assert reconciled["valid_keys_missing_from_silver"] == 0


def test_a_first_copy_under_another_review_id_is_caught_by_the_pair_check(lake) -> None:
    # Keys held by another folder are looked up by review_id, the digest of the pair (by its
    # integer image, `_review_key`). A silver row whose review_id is not its pair's digest is
    # corrupt: the full pair check fails on it, its failure stands (every next evaluation is
    # full), and a new copy of the pair, which the MERGE then inserts, is a duplicate pair it
    # names.
    workspace, instance = lake
    first = review(2)
    silver = DeltaTable(workspace.lakehouse.uri(SILVER_REVIEWS))
    other = "0123456789abcdef"
    silver.update(
        {"review_id": f"'{other}'", "_review_key": str(int(other, 16) - 2**63)},
        predicate=f"reviewerID = '{first['reviewerID']}'",
    )
    assert not ingest(workspace, instance, "partition_1", **{FULL_CHECK_TAG: "full"})
    pair = evaluation(instance, PAIR)
    assert not pair["passed"] and pair["review_id_not_the_digest"] == 1
    unique = evaluation(instance, UNIQUE)
    assert unique["passed"], unique  # the image is review_id's
    workspace.write_landing_file("amazon_reviews/partition_2/part-1.json.gz", [first])
    assert not ingest(workspace, instance, "partition_2")
    pair = evaluation(instance, PAIR)
    assert not pair["passed"] and str(pair["scope"]).startswith("full: ")
    assert (pair["duplicate_rows"], pair["review_id_not_the_digest"]) == (1, 1)
    # No key is lost: partition_2 owns its copy.
    reconciled = evaluation(instance, RECONCILES)
    assert reconciled["passed"] and reconciled["valid_keys_missing_from_silver"] == 0


def test_a_review_key_that_is_not_the_review_ids_image_fails_the_full_key_check(lake) -> None:
    # MERGE plans and the checks on changes look keys up by `_review_key`: a row whose key is
    # not its review_id's image would be looked up under the wrong key. The review_id check
    # verifies the image of every row it checks: all of them in a full check.
    workspace, instance = lake
    silver = DeltaTable(workspace.lakehouse.uri(SILVER_REVIEWS))
    silver.update({"_review_key": "42"}, predicate=f"reviewerID = '{review(2)['reviewerID']}'")
    assert not ingest(workspace, instance, "partition_2", **{FULL_CHECK_TAG: "full"})
    unique = evaluation(instance, UNIQUE)
    assert not unique["passed"] and str(unique["scope"]).startswith("full: ")
    assert (unique["duplicate_rows"], unique["_review_key_not_review_id"]) == (0, 1)


def test_a_wrong_review_key_among_added_rows_fails_the_check_on_changes(lake) -> None:
    # On changes, the added rows' images are verified first; with one wrong, the duplicates
    # are looked up by review_id itself (the appended row shares one with partition_0).
    workspace, instance = lake
    copy = workspace.lakehouse.read(SILVER_REVIEWS).filter(pl.col("_partition") == "partition_0")
    wrong = copy.head(1).with_columns(pl.lit(7, dtype=pl.Int64).alias("_review_key"))
    write_deltalake(workspace.lakehouse.uri(SILVER_REVIEWS), to_arrow(wrong), mode="append")
    assert not ingest(workspace, instance, "partition_2")
    unique = evaluation(instance, UNIQUE)
    assert not unique["passed"] and str(unique["scope"]).startswith("changes: ")
    assert (unique["duplicate_rows"], unique["_review_key_not_review_id"]) == (1, 1)
    assert unique["rows_checked"] == 6  # partition_2's five and the appended row


def test_a_row_lost_in_another_folder_fails_the_check_on_changes(lake) -> None:
    workspace, instance = lake
    DeltaTable(workspace.lakehouse.uri(SILVER_REVIEWS)).delete(
        f"reviewerID = '{review(3)['reviewerID']}'"  # a review of partition_0
    )
    assert not ingest(workspace, instance, "partition_2")
    reconciled = evaluation(instance, RECONCILES)
    assert not reconciled["passed"]
    assert str(reconciled["scope"]).startswith("changes: ")
    assert reconciled["valid_keys_missing_from_silver"] == 1
    assert "partition_0" in str(reconciled["landing_folders"])
    # A failure stands: the next evaluation checks everything again, and fails again.
    assert not ingest(workspace, instance, "partition_1")
    again = evaluation(instance, RECONCILES)
    assert not again["passed"] and str(again["scope"]).startswith("full: ")


def test_a_duplicate_key_against_unchanged_files_fails_the_check_on_changes(lake) -> None:
    workspace, instance = lake
    silver = workspace.lakehouse.read(SILVER_REVIEWS)
    copy = silver.filter(pl.col("_partition") == "partition_0").head(1)
    write_deltalake(workspace.lakehouse.uri(SILVER_REVIEWS), to_arrow(copy), mode="append")
    assert not ingest(workspace, instance, "partition_2")
    unique = evaluation(instance, UNIQUE)
    assert not unique["passed"] and str(unique["scope"]).startswith("changes: ")
    assert unique["duplicate_rows"] == 1
    # The pair check finds it through the digest (review_id) of the pair.
    pair = evaluation(instance, PAIR)
    assert not pair["passed"] and str(pair["scope"]).startswith("changes: ")
    assert (pair["duplicate_rows"], pair["review_id_not_the_digest"]) == (1, 0)


def append_silver_copy(workspace: Workspace, **changes: str) -> None:
    """A copy of one of partition_0's silver rows appended behind the MERGE's back (its
    `_review_key` the image of its review_id, changed or not)."""
    silver = workspace.lakehouse.read(SILVER_REVIEWS)
    copy = silver.filter(pl.col("_partition") == "partition_0").head(1)
    copy = copy.with_columns(pl.lit(value).alias(column) for column, value in changes.items())
    copy = copy.with_columns(review_key(pl.col("review_id")).alias(REVIEW_KEY))
    write_deltalake(workspace.lakehouse.uri(SILVER_REVIEWS), to_arrow(copy), mode="append")


def test_a_duplicate_pair_under_another_review_id_fails_the_pair_check_on_changes(lake) -> None:
    # The pair check on changes looks for duplicates of review_id, the pair's digest: a copy
    # of a pair under a review_id that is not its digest escapes that lookup (and the review_id
    # check), so the pair check verifies every added row's digest.
    workspace, instance = lake
    append_silver_copy(workspace, review_id="0123456789abcdef")
    assert not ingest(workspace, instance, "partition_2")
    assert evaluation(instance, UNIQUE)["passed"]
    pair = evaluation(instance, PAIR)
    assert not pair["passed"] and str(pair["scope"]).startswith("changes: ")
    assert (pair["review_id_not_the_digest"], pair["duplicate_rows"]) == (1, 0)
    # A failure stands: the next evaluation checks whole columns, the pair itself.
    assert not ingest(workspace, instance, "partition_1")
    again = evaluation(instance, PAIR)
    assert not again["passed"] and str(again["scope"]).startswith("full: ")
    assert (again["duplicate_rows"], again["review_id_not_the_digest"]) == (1, 1)


def test_the_full_pair_check_verifies_every_digest(lake) -> None:
    # A row of a new pair whose review_id is not its digest: no duplicate anywhere, but the
    # checks on changes that follow would rely on it, so a full check fails it too.
    workspace, instance = lake
    append_silver_copy(workspace, review_id="0123456789abcdef", asin="B0NEWPAIR0")
    assert not ingest(workspace, instance, "partition_2", **{FULL_CHECK_TAG: "full"})
    pair = evaluation(instance, PAIR)
    assert not pair["passed"] and str(pair["scope"]).startswith("full: ")
    assert (pair["review_id_not_the_digest"], pair["duplicate_rows"]) == (1, 0)
    assert pair["rows_checked"] == 16


def test_the_pair_check_passes_on_changes_after_a_clean_folder(lake) -> None:
    workspace, instance = lake
    assert ingest(workspace, instance, "partition_2")
    pair = evaluation(instance, PAIR)
    assert pair["passed"] and str(pair["scope"]).startswith("changes: ")
    assert (pair["rows_checked"], pair["rows"], pair["review_id_not_the_digest"]) == (5, 15, 0)


def test_the_periodic_reconciliation_checks_every_folder(lake) -> None:
    workspace, instance = lake
    assert ingest(workspace, instance, "partition_2", **{FULL_CHECK_TAG: "full"})
    reconciled = evaluation(instance, RECONCILES)
    assert reconciled["passed"] and reconciled["landing_folders"] == "all"
    assert (reconciled["bronze_rows"], reconciled["silver_rows"]) == (15, 15)


def test_the_reconciliation_job_rebuilds_gold_and_checks_whole_tables(lake) -> None:
    workspace, instance = lake
    assert ingest(workspace, instance, "partition_2")
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-0.json.gz", [product(n) for n in range(7)]
    )
    sync_partitions(instance, workspace.landing)
    metadata = workspace.defs.resolve_job_def("metadata_ingest_job")
    assert metadata.execute_in_process(instance=instance, partition_key="partition_0").success
    job = workspace.defs.resolve_job_def("reconciliation_job")
    assert job.execute_in_process(instance=instance).success
    reconciled = evaluation(instance, RECONCILES)
    assert reconciled["passed"] and str(reconciled["scope"]).startswith("full: ")
    assert (reconciled["bronze_rows"], reconciled["silver_rows"]) == (15, 15)
    gold = AssetCheckKey(asset_key(GOLD_REVIEWS_ENRICHED), "unique_not_null_review_id")
    assert evaluation(instance, gold)["rows_checked"] == 15
    event = instance.get_latest_materialization_event(asset_key(GOLD_REVIEWS_ENRICHED))
    assert event is not None and event.asset_materialization is not None
    assert event.asset_materialization.metadata["build"].value == "rebuild"


def test_the_reconciliation_schedule_leaves_out_tables_not_built_yet(
    workspace: Workspace, lake
) -> None:
    """On the clock, whatever the lake holds: an empty lake is skipped, a lake without metadata
    yet gets gold and the reviews' checks only, and that run succeeds; retraining waits for
    gold."""
    _, instance = lake

    def tick(lakehouse: Lakehouse, name: str = "reconciliation_schedule"):
        context = build_schedule_context(
            instance=instance,
            repository_def=workspace.defs.get_repository_def(),
            resources={"lakehouse": lakehouse},
        )
        return workspace.defs.get_repository_def().get_schedule_def(name).evaluate_tick(context)

    empty = tick(Lakehouse(root=str(workspace.root / "empty_lake")))
    assert (
        empty.run_requests == []
        and empty.skip_message == "silver is empty: nothing to reconcile yet"
    )
    (request,) = tick(workspace.lakehouse).run_requests
    assert request.tags["paisa/not_built_yet"] == "silver.amazon_metadata"
    assert {key.asset_key for key in request.asset_check_keys} == {
        asset_key(table) for table in (BRONZE_REVIEWS, SILVER_REVIEWS, GOLD_REVIEWS_ENRICHED)
    }
    assert len(request.asset_check_keys) == 7
    job = workspace.defs.resolve_job_def("reconciliation_job")
    subset = job.get_subset(
        asset_selection=set(request.asset_selection),
        asset_check_selection=set(request.asset_check_keys),
    )
    result = subset.execute_in_process(instance=instance, tags=request.tags)
    assert result.success
    assert len(result.get_asset_check_evaluations()) == 7
    assert all(evaluation.passed for evaluation in result.get_asset_check_evaluations())
    # Retraining waits for gold too, then trains on the clock.
    assert tick(
        Lakehouse(root=str(workspace.root / "empty_lake")), "ml_retrain_schedule"
    ).skip_message == ("gold is empty: nothing to train on yet")
    assert len(tick(workspace.lakehouse, "ml_retrain_schedule").run_requests) == 1
