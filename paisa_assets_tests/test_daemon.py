"""The real Dagster daemon: sensors batch landing folders into few runs, retry folders whose run
failed, and rebuild gold one run at a time; stream events reach gold on their own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from paisa_assets.definitions import defs
from paisa_assets.generator.stream import generated_payloads
from paisa_assets.lake_views import count_view
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.runner import sync_partitions
from paisa_assets.tables import (
    BRONZE_REVIEWS,
    GOLD_KPIS,
    SILVER_METADATA,
    SILVER_QUARANTINE,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets_tests.conftest import (
    Workspace,
    make_workspace,
    materialize_all,
    product,
    review,
)
from paisa_assets_tests.support.daemon import Daemon, dagster_env, running_daemon, wait_for

pytestmark = pytest.mark.slow

FAST_SENSORS = {
    "PAISA_LANDING_SENSOR_INTERVAL_SECONDS": "2",
    "PAISA_EVENTHUB_SENSOR_INTERVAL_SECONDS": "2",
    "PAISA_GOLD_SENSOR_INTERVAL_SECONDS": "2",
}


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Workspace, Daemon]]:
    workspace = make_workspace(tmp_path)
    # The weekly reconciliation ticks every minute here, on an empty lake and on a busy one.
    with running_daemon(tmp_path, **FAST_SENSORS, PAISA_RECONCILIATION_CRON="* * * * *") as running:
        yield workspace, running


def gold_reviews(workspace: Workspace) -> int:
    lake = workspace.lakehouse
    return int(lake.read(GOLD_KPIS)["reviews"][0]) if lake.exists(GOLD_KPIS) else -1


def overlapping(records) -> list[tuple[str, str]]:
    """Pairs of runs whose [start, end] intervals overlap (runs not started yet have none)."""
    spans = sorted(
        (r.start_time, r.end_time or time.time(), r.dagster_run.run_id)
        for r in records
        if r.start_time is not None
    )
    return [(a[2], b[2]) for i, a in enumerate(spans) for b in spans[i + 1 :] if b[0] < a[1]]


def test_bursts_make_few_runs_one_gold_writer_at_a_time_and_the_weekly_reconciliation_agrees(
    daemon: tuple[Workspace, Daemon],
) -> None:
    workspace, running = daemon
    lake = workspace.lakehouse
    for folder in range(12):
        workspace.write_landing_file(
            f"amazon_reviews/partition_{folder}/part-00000.json.gz",
            [review(folder * 100 + n) for n in range(3)],
        )
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-00000.json.gz", [product(n) for n in range(7)]
    )
    wait_for(lambda: gold_reviews(workspace) == 36, 240, "gold to show the 36 reviews")
    assert lake.count(BRONZE_REVIEWS) == lake.count(SILVER_REVIEWS) == 36
    assert lake.count(SILVER_METADATA) == 7
    ingest = running.runs("reviews_ingest_job")
    assert 1 <= len(ingest) <= 3, [r.dagster_run.tags for r in ingest]
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in ingest)

    # Bursts of stream events while gold is being rebuilt: never two gold runs at once, none
    # fails, and gold ends with every event.
    events = LocalEventLog(root=str(workspace.root / "events"))
    for burst in range(5):
        events.publish(generated_payloads(10, seed=40 + burst))
        time.sleep(3)
    wait_for(lambda: gold_reviews(workspace) == 36 + 50, 240, "gold to show the 50 stream reviews")
    assert lake.count(SILVER_REVIEWS_STREAMING) == 50
    finished = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]

    def settled() -> bool:
        # A stream run may still be deciding on events whose reviews silver already holds.
        runs = running.runs("gold_job") + running.runs("streaming_job")
        return all(r.dagster_run.status in finished for r in runs)

    wait_for(settled, 120, "the last gold and stream runs to finish")
    gold_runs = running.runs("gold_job")
    assert gold_runs and all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in gold_runs), [
        (r.dagster_run.run_id, r.dagster_run.status) for r in gold_runs
    ]
    stream_runs = running.runs("streaming_job")
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in stream_runs)

    # The reconciliation schedule (every minute here) rebuilds gold in full and checks every
    # table whole: one of its runs starts after the last update, agrees with the incremental
    # gold, and none of its runs (on an empty lake, beside gold runs) failed or overlapped one.
    last_update = max(r.end_time for r in gold_runs)

    def reconciled() -> list:
        runs = running.runs("reconciliation_job")
        return [r for r in runs if r.start_time and r.start_time > last_update and r.end_time]

    wait_for(lambda: reconciled() != [], 180, "a reconciliation run after the last gold run")
    reconciliations = running.runs("reconciliation_job")  # a later tick's may be running
    ended = [r for r in reconciliations if r.dagster_run.status in finished]
    assert [r for r in ended if r.dagster_run.status != DagsterRunStatus.SUCCESS] == []
    assert {r.dagster_run.tags["dagster/schedule_name"] for r in reconciliations} == {
        "reconciliation_schedule"
    }
    assert gold_reviews(workspace) == 36 + 50
    with running.instance() as instance:
        checks = instance.get_records_for_run(
            reconciled()[0].dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in checks]
    job = defs.resolve_job_def("reconciliation_job")
    assert len(evaluations) == len(job.asset_layer.asset_graph.asset_check_keys) == 10
    assert all(e.passed for e in evaluations), evaluations
    assert overlapping(gold_runs + reconciliations) == []


def test_folders_whose_run_died_or_failed_are_requested_again_until_they_land(
    tmp_path: Path,
) -> None:
    workspace = make_workspace(tmp_path)
    lake = workspace.lakehouse
    crashes, hangs = tmp_path / "crashes.count", tmp_path / "hangs.count"
    point = "silver.after_merge:silver.amazon_reviews"

    def reached(state: Path) -> bool:
        return state.exists() and state.read_text().strip() != ""

    def runs(running: Daemon, status: DagsterRunStatus) -> list:
        return running.runs("reviews_ingest_job", [status])

    # 1. The run worker is SIGKILLed right after committing silver (quarantine not written),
    #    as by the OOM killer; the code server sees its child die and fails the run. The fault
    #    fires once across all run workers (counted in a file).
    with running_daemon(
        tmp_path, **FAST_SENSORS, PAISA_CRASH_AT=point, PAISA_FAULT_STATE=str(crashes)
    ) as running:
        workspace.write_landing_file(
            "amazon_reviews/partition_0/part-00000.json.gz",
            [review(n) for n in range(4)] + [review(9, overall=9.0)],
        )
        wait_for(lambda: reached(crashes), 180, "the run worker to be killed")
        wait_for(lambda: len(runs(running, DagsterRunStatus.SUCCESS)) == 1, 240, "a retry")
        assert len(runs(running, DagsterRunStatus.FAILURE)) == 1
        assert lake.count(BRONZE_REVIEWS) == 5
        assert lake.count(SILVER_REVIEWS) == 4
        assert count_view(lake, SILVER_QUARANTINE) == 1  # written by the run that finished the job

    # 2. The run hangs, then the whole daemon (code server and run worker) goes down with it,
    #    as in a reboot: nobody is left to fail the run, which stays STARTED.
    with running_daemon(
        tmp_path, **FAST_SENSORS, PAISA_HANG_AT=point, PAISA_FAULT_STATE=str(hangs)
    ) as running:
        workspace.write_landing_file(
            "amazon_reviews/partition_1/part-00000.json.gz", [review(n) for n in range(20, 23)]
        )
        wait_for(lambda: reached(hangs), 180, "the run to hang")
    with running.instance() as instance:
        (hung,) = instance.get_run_records(
            RunsFilter(job_name="reviews_ingest_job", statuses=[DagsterRunStatus.STARTED])
        )
    # 3. After the restart, the sensor finds the run's worker gone, fails the run and requests
    #    its folder again.
    with running_daemon(tmp_path, **FAST_SENSORS) as running:
        wait_for(lambda: len(runs(running, DagsterRunStatus.SUCCESS)) == 2, 240, "the restart")
        with running.instance() as instance:
            run = instance.get_run_by_id(hung.dagster_run.run_id)
            messages = [
                entry.dagster_event.message
                for entry in instance.all_logs(run.run_id)
                if entry.dagster_event is not None
            ]
        assert run.status == DagsterRunStatus.FAILURE
        assert any("is gone without finishing the run" in (m or "") for m in messages)
        assert lake.count(BRONZE_REVIEWS) == 8
        assert lake.count(SILVER_REVIEWS) == 7

        # 4. A storage outage: bronze cannot write partition_2's folder, so its run fails; once
        #    the outage ends, the sensor requests the folder again (no run key ever blocks it).
        blocker = Path(lake.uri(BRONZE_REVIEWS)) / "_partition=partition_2"
        blocker.write_text("not a folder")
        workspace.write_landing_file(
            "amazon_reviews/partition_2/part-00000.json.gz", [review(n) for n in range(40, 42)]
        )
        wait_for(lambda: len(runs(running, DagsterRunStatus.FAILURE)) >= 3, 180, "a failure")
        blocker.unlink()
        wait_for(lambda: len(runs(running, DagsterRunStatus.SUCCESS)) == 3, 240, "the outage")
        assert lake.count(BRONZE_REVIEWS) == 10
        assert lake.count(SILVER_REVIEWS) == 9


def sensor_ticks(running: Daemon, name: str, after: float) -> list:
    """The ticks of the sensor or schedule `name` evaluated after `after` (epoch seconds)."""
    with running.instance() as instance:
        (state,) = [s for s in instance.all_instigator_state() if s.instigator_name == name]
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=50)
    return [tick for tick in ticks if tick.timestamp > after]


def test_the_daily_maintenance_compacts_gold_inputs_and_asks_for_no_gold_run(
    tmp_path: Path,
) -> None:
    workspace = make_workspace(tmp_path)
    lake = workspace.lakehouse
    # Two files of one folder landing one after the other, then two stream batches, each
    # ingested and built into gold (in process: the daemon's part is the maintenance below):
    # gold's inputs hold two small files each, which the maintenance compacts.
    events = LocalEventLog(root=str(workspace.root / "events"))
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-00000.json.gz", [product(n) for n in range(7)]
    )
    with DagsterInstance.from_config(dagster_env(tmp_path)["DAGSTER_HOME"]) as instance:
        for part, first in enumerate((0, 10)):
            workspace.write_landing_file(
                f"amazon_reviews/partition_0/part-0000{part}.json.gz",
                [review(n) for n in range(first, first + 3)],
            )
            sync_partitions(instance, workspace.landing)
            materialize_all(instance, workspace)
        for burst in range(2):
            events.publish(generated_payloads(2, seed=60 + burst))
            materialize_all(instance, workspace)
        gold_runs_before = len(instance.get_run_records(RunsFilter(job_name="gold_job")))
    assert gold_reviews(workspace) == 10
    compacted = (SILVER_REVIEWS, SILVER_REVIEWS_STREAMING)  # gold's inputs
    versions_before = {table: lake.version(table) for table in compacted}

    # The maintenance schedule, every minute here: its run compacts, and the gold sensor,
    # ticking every 2 s, finds gold up to date before and after it.
    with running_daemon(tmp_path, **FAST_SENSORS, PAISA_MAINTENANCE_CRON="* * * * *") as running:
        ok = [DagsterRunStatus.SUCCESS]
        wait_for(lambda: running.runs("maintenance_job", ok) != [], 180, "a maintenance run")
        maintained = running.runs("maintenance_job", ok)[0]
        with running.instance() as instance:
            (materialization,) = [
                record.asset_materialization
                for record in instance.get_records_for_run(
                    maintained.dagster_run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
                ).records
                if record.asset_key.to_user_string() == "lake_maintenance"
            ]
        outcomes = {o["table"]: o for o in materialization.metadata["tables"].value}
        for table in compacted:
            assert outcomes[table]["files_compacted"] >= 2, outcomes[table]
            assert outcomes[table]["version_after"] > outcomes[table]["version_before"]
        assert all(lake.version(t) > v for t, v in versions_before.items())

        wait_for(
            lambda: len(sensor_ticks(running, "gold_sensor", maintained.end_time)) >= 3,
            60,
            "three gold sensor ticks after the maintenance",
        )
        after = sensor_ticks(running, "gold_sensor", maintained.end_time)
        assert all("gold is up to date" in (t.skip_reason or "") for t in after), [
            (t.status, t.skip_reason) for t in after
        ]
        assert len(running.runs("gold_job")) == gold_runs_before
    assert gold_reviews(workspace) == 10
