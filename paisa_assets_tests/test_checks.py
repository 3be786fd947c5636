"""The reconciliation check: exact counts on a clean lake, and a failure (with the count that
gives it away) when silver loses or doubles a row or the quarantine loses one."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from dagster import AssetCheckResult, AssetKey, DagsterInstance, build_op_context
from deltalake import DeltaTable, write_deltalake

from paisa_assets.checks import _key_digest, asset_checks
from paisa_assets.runner import sync_partitions
from paisa_assets.tables import SILVER_REVIEWS, SILVER_REVIEWS_QUARANTINE
from paisa_assets_tests.conftest import Workspace, review

RECONCILE_REVIEWS = next(
    check
    for check in asset_checks
    if any(
        key.name == "reconciles_with_bronze"
        and key.asset_key == AssetKey(["silver", "amazon_reviews"])
        for key in check.check_keys
    )
)


@pytest.fixture
def ingested(workspace: Workspace) -> Workspace:
    """Two folders: 13 bronze rows, 1 contract violation, 2 duplicates (one only after trimming
    its asin), 10 distinct reviews."""
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-0.json.gz",
        [review(n) for n in range(5)] + [review(0), review(1000, overall=9.0)],
    )
    workspace.write_landing_file(
        "amazon_reviews/partition_1/part-0.json.gz",
        [review(100 + n) for n in range(5)] + [review(100, asin=" B000000002 ")],
    )
    job = workspace.defs.resolve_job_def("reviews_ingest_job")
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, workspace.landing)
        for partition in ("partition_0", "partition_1"):
            assert job.execute_in_process(instance=instance, partition_key=partition).success
    return workspace


def reconcile(workspace: Workspace) -> AssetCheckResult:
    return RECONCILE_REVIEWS(
        build_op_context(), lakehouse=workspace.lakehouse, warehouse=workspace.warehouse
    )


def counts(result: AssetCheckResult) -> dict[str, object]:
    return {name: value.value for name, value in result.metadata.items()}


def test_a_clean_lake_reconciles_with_exact_counts(ingested: Workspace) -> None:
    result = reconcile(ingested)
    assert result.passed
    assert counts(result) == {
        "landing_folders": "all",
        "bronze_rows": 13,
        "silver_rows": 10,
        "quarantined": 1,
        "duplicates_dropped": 2,
        "distinct_valid_keys_in_bronze": 10,
        "valid_keys_missing_from_silver": 0,
        "silver_rows_without_a_bronze_row": 0,
        "scope": "full: periodic full reconciliation, or outside a run",
        "checked_versions": {
            "bronze.amazon_reviews": 2,
            "silver.amazon_reviews": 2,
            "silver.amazon_reviews_quarantine": 1,
        },
    }


def test_a_silver_row_lost_fails_the_check(ingested: Workspace) -> None:
    silver = DeltaTable(ingested.lakehouse.uri(SILVER_REVIEWS))
    silver.delete("asin = 'B000000003'")  # every review of one product
    lost = 10 - ingested.lakehouse.count(SILVER_REVIEWS)
    assert lost > 0
    result = reconcile(ingested)
    assert not result.passed
    assert counts(result)["valid_keys_missing_from_silver"] == lost


def test_a_doubled_silver_row_fails_the_check(ingested: Workspace) -> None:
    uri = ingested.lakehouse.uri(SILVER_REVIEWS)
    one_row = DeltaTable(uri).to_pyarrow_table().slice(0, 1)
    write_deltalake(uri, one_row, mode="append")
    result = reconcile(ingested)
    assert not result.passed
    assert counts(result)["silver_rows"] == 11
    assert counts(result)["valid_keys_missing_from_silver"] == 0


def test_a_row_lost_from_quarantine_fails_the_check(ingested: Workspace) -> None:
    quarantine = DeltaTable(ingested.lakehouse.uri(SILVER_REVIEWS_QUARANTINE))
    assert quarantine.to_pyarrow_table().num_rows == 1
    quarantine.delete()
    result = reconcile(ingested)
    assert not result.passed
    # The violating row now counts as a valid review that silver lacks.
    assert counts(result)["quarantined"] == 0
    assert counts(result)["valid_keys_missing_from_silver"] == 1


def test_a_key_with_a_null_part_is_told_apart_from_any_text() -> None:
    """Keys are compared as digests: a null part must not digest like some string."""
    rows = pa.table({"a": ["x", None, "x", "!"], "b": [None, "x", "!", None]})
    with duckdb.connect() as con:
        con.register("t", rows)
        digests = con.sql(f"SELECT {_key_digest('t', ['a', 'b'])} FROM t").fetchall()
    assert len({d for (d,) in digests}) == 4


def test_folders_another_run_is_still_ingesting_are_left_out(ingested: Workspace) -> None:
    """Bronze of partition_2 committed, its silver not yet (another run waits for the silver
    pool): not a loss. Judged without that knowledge, the same lake fails."""
    from dagster import materialize

    from paisa_assets.assets.bronze import bronze_amazon_reviews

    ingested.write_landing_file(
        "amazon_reviews/partition_2/part-0.json.gz", [review(200 + n) for n in range(4)]
    )
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, ingested.landing)
        job = ingested.defs.resolve_job_def("reviews_ingest_job")
        for partition in ("partition_0", "partition_1"):
            assert job.execute_in_process(instance=instance, partition_key=partition).success
        assert materialize(
            [bronze_amazon_reviews],
            instance=instance,
            partition_key="partition_2",
            resources={"landing_zone": ingested.landing, "lakehouse": ingested.lakehouse},
        ).success
        result = RECONCILE_REVIEWS(
            build_op_context(instance=instance),
            lakehouse=ingested.lakehouse,
            warehouse=ingested.warehouse,
        )
    assert result.passed
    assert counts(result)["landing_folders"] == (
        "all but 1 still being ingested by another run: partition_2"
    )
    assert counts(result)["bronze_rows"] == 13
    strict = reconcile(ingested)  # no run history: every folder is judged
    assert not strict.passed
    assert counts(strict)["bronze_rows"] == 17
    assert counts(strict)["valid_keys_missing_from_silver"] == 4


def check_named(name: str):
    return next(c for c in asset_checks if any(k.name == name for k in c.check_keys))


def test_two_spellings_of_one_category_fail_the_spelling_check(workspace: Workspace) -> None:
    from paisa_assets.tables import SILVER_METADATA

    uri = workspace.lakehouse.uri(SILVER_METADATA)
    check = check_named("one_spelling_per_main_cat")
    write_deltalake(uri, pa.table({"asin": ["A", "B"], "main_cat": ["Books", "Toys & Games"]}))
    good = check(build_op_context(), lakehouse=workspace.lakehouse, warehouse=workspace.warehouse)
    assert good.passed and counts(good)["values"] == 2
    more = pa.table(
        {"asin": ["C", "D", "E"], "main_cat": ["AMAZON FASHION", "Amazon Fashion", None]}
    )
    write_deltalake(uri, more, mode="append")
    bad = check(build_op_context(), lakehouse=workspace.lakehouse, warehouse=workspace.warehouse)
    assert not bad.passed
    assert counts(bad) == {
        "values": 4,
        "values_ignoring_case": 3,
        "examples": "AMAZON FASHION / Amazon Fashion",
    }


def test_a_run_of_one_folder_fails_when_another_folder_lost_a_key(ingested: Workspace) -> None:
    """The check of partition_0's run judges the whole table: keys lost from partition_1's rows
    (nothing of partition_1 in flight) fail it, where a check of the run's own folders passed."""
    DeltaTable(ingested.lakehouse.uri(SILVER_REVIEWS)).delete("_partition = 'partition_1'")
    job = ingested.defs.resolve_job_def("reviews_ingest_job")
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, ingested.landing)
        result = job.execute_in_process(
            instance=instance, partition_key="partition_0", raise_on_error=False
        )
    [evaluation] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "reconciles_with_bronze"
    ]
    assert not evaluation.passed
    assert evaluation.metadata["landing_folders"].value == "all"
    assert evaluation.metadata["valid_keys_missing_from_silver"].value == 5


def test_a_folder_committed_a_moment_before_its_event_is_read_again_not_failed(
    ingested: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run outside the pools commits partition_2's bronze, and its event reaches the
    instance while the check reads: the first reading counts that folder's bronze rows without
    silver ones; the second finds it in flight and passes. A real loss fails both readings
    (`test_a_silver_row_lost_fails_the_check`)."""
    from dagster import materialize

    from paisa_assets.assets.bronze import bronze_amazon_reviews

    ingested.write_landing_file(
        "amazon_reviews/partition_2/part-0.json.gz", [review(200 + n) for n in range(4)]
    )
    resources = {"landing_zone": ingested.landing, "lakehouse": ingested.lakehouse}
    readings: list[str] = []
    with DagsterInstance.ephemeral() as instance, DagsterInstance.ephemeral() as elsewhere:
        for each in (instance, elsewhere):
            sync_partitions(each, ingested.landing)
        job = ingested.defs.resolve_job_def("reviews_ingest_job")
        for partition in ("partition_0", "partition_1"):
            assert job.execute_in_process(instance=instance, partition_key=partition).success

        def bronze_of_partition_2(where: DagsterInstance) -> None:
            ran = materialize(
                [bronze_amazon_reviews],
                instance=where,
                partition_key="partition_2",
                resources=resources,
            )
            assert ran.success

        bronze_of_partition_2(elsewhere)  # committed; its event not in `instance` yet
        monkeypatch.setattr(
            "paisa_assets.checks.pause_before_reading_again",
            lambda: (readings.append("again"), bronze_of_partition_2(instance)),
        )
        result = RECONCILE_REVIEWS(
            build_op_context(instance=instance),
            lakehouse=ingested.lakehouse,
            warehouse=ingested.warehouse,
        )
    assert readings == ["again"]
    assert result.passed
    assert counts(result)["landing_folders"] == (
        "all but 1 still being ingested by another run: partition_2"
    )
    assert counts(result)["read_again_after_a_failure"] is True
