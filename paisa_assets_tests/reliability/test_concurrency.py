"""Concurrent writers of the same Delta tables: partition runs side by side in processes of
their own (outside the daemon's pools, which would otherwise keep them apart), and a batch gold
run racing a streaming run's gold. Commit conflicts must be retried, never lost: every run
succeeds and the tables are exact afterwards."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from dagster import AssetKey, DagsterInstance, build_asset_context, build_sensor_context
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from paisa_assets.generator import generate_landing_zone
from paisa_assets.generator.stream import generated_payloads
from paisa_assets.gold_build import GOLD_INPUTS, INPUTS_KEY, input_versions, rebuild_gold_table
from paisa_assets.resources.lakehouse import Lakehouse, retry_on_conflict
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.runner import sync_partitions
from paisa_assets.sensors import gold_sensor
from paisa_assets.tables import (
    GOLD_KPIS,
    GOLD_REVIEWS_ENRICHED,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets.transforms import gold as gold_sql
from paisa_assets_tests.conftest import make_workspace, materialize_all, review
from paisa_assets_tests.reliability.support import (
    BATCH_TABLES,
    REPO,
    Expected,
    assert_delta_consistent,
    assert_exact,
    instance_at,
    lake_env,
    start_driver,
    workspace_at,
)

# One pytest-xdist worker runs this module: its tests share a module-scoped fixture.
pytestmark = [pytest.mark.reliability, pytest.mark.xdist_group("reliability.test_concurrency")]

BIN = Path(sys.executable).parent
SCHEMA = pa.schema([("k", pa.string()), ("v", pa.int64())])


def commit_rival(uri: str, key: str) -> None:
    rival = pa.table({"k": [key], "v": [2]}, schema=SCHEMA)
    DeltaTable(uri).merge(
        rival, predicate="t.k = s.k", source_alias="s", target_alias="t"
    ).when_not_matched_insert_all().execute()


def racing_merge(uri: str, key: str, attempts: list[int]) -> Callable[[], dict[str, int]]:
    """A MERGE of `key` during whose first attempt a rival writer commits `rival-<key>` (from
    inside the MERGE's source stream: after the MERGE read the table, before it commits)."""

    def merge() -> dict[str, int]:
        attempts.append(len(attempts) + 1)
        first = len(attempts) == 1

        def source() -> Iterator[pa.RecordBatch]:
            yield pa.record_batch([pa.array([key]), pa.array([1])], schema=SCHEMA)
            if first:  # delta-rs runs this stream on its runtime: the rival needs a thread
                rival = threading.Thread(target=commit_rival, args=(uri, f"rival-{key}"))
                rival.start()
                rival.join()

        reader = pa.RecordBatchReader.from_batches(SCHEMA, source())
        merger = DeltaTable(uri).merge(
            reader, predicate="t.k = s.k", source_alias="s", target_alias="t"
        )
        return merger.when_matched_update_all().when_not_matched_insert_all().execute()

    return merge


def test_a_merge_that_loses_a_race_runs_again_on_the_winning_version(tmp_path: Path) -> None:
    """Deterministic, with real delta-rs conflicts: alone, the losing MERGE raises
    CommitFailedError (delta-rs's own commit retries do not cover it); through
    `retry_on_conflict` it runs again on the rival's version and both rows are there."""
    lake = Lakehouse(root=str(tmp_path))
    lake.merge("silver.t", pl.DataFrame({"k": ["a"], "v": [0]}), keys=["k"])
    uri = lake.uri("silver.t")

    lost: list[int] = []
    with pytest.raises(CommitFailedError, match="concurrent"):
        racing_merge(uri, "b", lost)()
    assert sorted(lake.read("silver.t")["k"]) == ["a", "rival-b"]  # b is not there

    attempts: list[int] = []
    metrics = retry_on_conflict(racing_merge(uri, "c", attempts), "silver.t")
    assert attempts == [1, 2]
    assert metrics["num_target_rows_inserted"] == 1
    assert sorted(lake.read("silver.t")["k"]) == ["a", "c", "rival-b", "rival-c"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected]:
    source = tmp_path_factory.mktemp("generated")
    report = generate_landing_zone(
        source / "landing",
        reviews=3_000,
        review_partitions=2,
        metadata_partitions=1,
        seed=11,
        progress=False,
        workers=1,
    )
    return source / "landing", Expected.of(report)


@pytest.mark.slow
def test_partition_runs_side_by_side_in_separate_processes(
    tmp_path: Path, generated: tuple[Path, Expected]
) -> None:
    """Three `dagster job execute` processes at once, outside the run queue and its pools (as
    runs of a deployment without them, or a hand-run CLI, would): two review folders and the
    metadata folder,
    all writing bronze.ingested_files, bronze.quarantine and silver.quarantine, and the review
    runs bronze.amazon_reviews and silver.amazon_reviews."""
    landing, expected = generated
    shutil.copytree(landing, tmp_path / "landing")
    env = lake_env(tmp_path)
    workspace = workspace_at(tmp_path)
    with instance_at(tmp_path) as instance:
        sync_partitions(instance, workspace.landing)
    runs = [("reviews_ingest_job", f"partition_{n}") for n in range(2)]
    runs.append(("metadata_ingest_job", "partition_0"))
    processes = [
        subprocess.Popen(
            [
                str(BIN / "dagster"),
                "job",
                "execute",
                "-m",
                "paisa_assets.definitions",
                "-j",
                job,
                "--tags",
                json.dumps({"dagster/partition": partition}),
            ],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for job, partition in runs
    ]
    outputs = [process.communicate(timeout=400)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-4000:]
        assert "RUN_SUCCESS" in output
    with instance_at(tmp_path) as instance:
        materialize_all(instance, workspace)  # gold, and every check once more: all pass
    assert_exact(workspace.lakehouse, expected)
    assert_delta_consistent(workspace.lakehouse, BATCH_TABLES)


@pytest.mark.slow
def test_a_batch_gold_run_races_a_streaming_and_gold_run(
    tmp_path: Path, generated: tuple[Path, Expected]
) -> None:
    """Two processes start together, both with gold to rebuild: one from the batch tables (a
    landing file arrived since gold was built), the other after ingesting stream events.
    Whatever the interleaving, gold ends up built from the latest silver (batch and stream),
    and the gold sensor has nothing left to do."""
    landing, expected = generated
    shutil.copytree(landing, tmp_path / "landing")
    workspace = workspace_at(tmp_path)
    env = lake_env(tmp_path)
    late = [review(n, reviewerID=f"LATE{n:05d}") for n in range(50)]
    with instance_at(tmp_path) as instance:
        sync_partitions(instance, workspace.landing)
        materialize_all(instance, workspace)  # batch ingested, gold built once
        workspace.write_landing_file("amazon_reviews/partition_0/late.json.gz", late)
        job = workspace.defs.resolve_job_def("reviews_ingest_job")
        assert job.execute_in_process(instance=instance, partition_key="partition_0").success
    expected = replace(
        expected,
        bronze_reviews=expected.bronze_reviews + len(late),
        silver_reviews=expected.silver_reviews + len(late),
        files=expected.files + 1,
    )
    stream = 400
    LocalEventLog(root=str(tmp_path / "events")).publish(generated_payloads(stream, seed=41))
    start = str(time.time() + 12)  # both processes have imported everything by then
    batch_gold = start_driver(env, "gold", start)
    stream_gold = start_driver(env, "stream+gold", start)
    for process in (batch_gold, stream_gold):
        out, err = process.communicate(timeout=400)
        assert process.returncode == 0, (out[-2000:], err[-4000:])
    lake = workspace.lakehouse
    assert lake.count(SILVER_REVIEWS_STREAMING) == stream
    assert_exact(lake, expected, stream_reviews=stream)
    assert lake.read(GOLD_KPIS).select("batch_reviews", "stream_reviews").row(0) == (
        expected.silver_reviews,
        stream,
    )
    assert_delta_consistent(lake, [GOLD_REVIEWS_ENRICHED, GOLD_KPIS])
    with DagsterInstance.ephemeral() as instance:
        tick = gold_sensor(build_sensor_context(instance=instance, resources={"lakehouse": lake}))
    assert "gold is up to date" in tick.skip_message


def test_a_partition_run_checks_its_own_partitions_while_another_is_in_flight(
    tmp_path: Path,
) -> None:
    """Runs of different folders overlap (four at once under the run coordinator). A run's
    reconciliation check must judge its own folders: another run caught between its bronze
    and its silver commit is not a lost row, and must not fail this run."""
    workspace = make_workspace(tmp_path)
    for folder in (0, 1):
        workspace.write_landing_file(
            f"amazon_reviews/partition_{folder}/part-0.json.gz",
            [review(folder * 100 + n) for n in range(5)] + [review(folder * 100)],  # + a dup
            raw_lines=(b"not json",),
        )
    job = workspace.defs.resolve_job_def("reviews_ingest_job")
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, workspace.landing)
        assert job.execute_in_process(instance=instance, partition_key="partition_0").success
        # The run of partition_1 is in flight: bronze committed, silver not yet.
        in_flight = job.execute_in_process(
            instance=instance,
            partition_key="partition_1",
            asset_selection=[  # bronze's asset writes its quarantine and manifest too
                AssetKey(["bronze", "amazon_reviews"]),
                AssetKey(["bronze", "amazon_reviews_quarantine"]),
                AssetKey(["bronze", "amazon_reviews_ingested_files"]),
            ],
        )
        assert in_flight.success
        again = job.execute_in_process(
            instance=instance, partition_key="partition_0", raise_on_error=False
        )
        evaluations = {
            e.check_name: (e.passed, e.metadata) for e in again.get_asset_check_evaluations()
        }
        assert evaluations["reconciles_with_bronze"][0], evaluations["reconciles_with_bronze"]
        assert again.success
        # Once partition_1's silver lands, its own check and the whole lake reconcile.
        finished = job.execute_in_process(instance=instance, partition_key="partition_1")
        assert all(e.passed for e in finished.get_asset_check_evaluations())
    assert workspace.lakehouse.count(SILVER_REVIEWS) == 10


def test_an_older_gold_rebuild_never_lands_on_a_newer_one(tmp_path: Path) -> None:
    """Deterministic: while this rebuild computes gold from silver version N, silver moves to
    N+1 and a rival rebuild commits gold from it. Committing now would put older gold over
    newer gold; instead the commit conflicts, the retry sees the rival recorded the current
    silver, and gold stays the newer one."""
    workspace = make_workspace(tmp_path)
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-0.json.gz", [review(n) for n in range(5)]
    )
    lake = workspace.lakehouse

    def add_silver_review(name: str) -> None:
        row = lake.read(SILVER_REVIEWS).head(1)
        lake.merge(
            SILVER_REVIEWS,
            row.with_columns(pl.lit(name).alias("review_id"), pl.lit(name).alias("reviewerID")),
            keys=["review_id"],
        )

    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, workspace.landing)
        materialize_all(instance, workspace)
    add_silver_review("newer-1")  # gold is now behind silver
    calls: list[str] = []

    def query_while_a_rival_rebuilds(con):  # type: ignore[no-untyped-def]
        calls.append("query")
        if len(calls) == 1:  # this attempt registered silver as it was; then the world moves on
            add_silver_review("newer-2")
            rival = rebuild_gold_table(
                build_asset_context(),
                lake,
                workspace.warehouse,
                table=GOLD_REVIEWS_ENRICHED,
                inputs=GOLD_INPUTS,
                query=gold_sql.reviews_enriched,
            )
            assert rival.metadata["rows_written"].value == 7
        return gold_sql.reviews_enriched(con)

    result = rebuild_gold_table(
        build_asset_context(),
        lake,
        workspace.warehouse,
        table=GOLD_REVIEWS_ENRICHED,
        inputs=GOLD_INPUTS,
        query=query_while_a_rival_rebuilds,
    )
    assert calls == ["query"]  # the retry found gold up to date: nothing to compute again
    assert result.metadata["up_to_date"].value is True
    assert lake.count(GOLD_REVIEWS_ENRICHED) == 7  # not the 6 this attempt had computed
    recorded = lake.last_commit_metadata(GOLD_REVIEWS_ENRICHED)[INPUTS_KEY]
    assert recorded == input_versions(lake, GOLD_INPUTS)
