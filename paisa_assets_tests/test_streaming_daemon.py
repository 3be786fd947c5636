"""Streaming completeness under the real Dagster daemon: whatever happens to runs, sources or
the hub, bronze ends equal to the hub minus the events reported as expired, with no duplicate.

Each test starts `dagster-daemon` on a fresh instance (sensor interval 2 s) with the local event
log or the Event Hubs emulator of the test process, and watches the lake."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson
import polars as pl
import psutil
import pytest
from dagster import AssetKey, DagsterEventType, DagsterRunStatus

from paisa_assets.generator.stream import generated_payloads
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_REVIEWS_STREAMING,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets.transforms.reviews import review_id
from paisa_assets_tests.support.daemon import Daemon, running_daemon, wait_for
from paisa_eventhub_emulator.api import EventHubEmulator
from paisa_eventhub_emulator.storage import Retention

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

HUB = "reviews"
BRONZE_EH_KEY = AssetKey(["bronze", "eh_streaming"])
FAST_SENSOR = {"PAISA_EVENTHUB_SENSOR_INTERVAL_SECONDS": "2"}
Keys = set[tuple[str, str, int]]


def lake_of(root: Path) -> Lakehouse:
    return Lakehouse(root=str(root / "lake"))


def bronze_keys(lake: Lakehouse) -> Keys:
    """Every event key bronze.eh_streaming holds, after asserting that none is held twice."""
    if not lake.exists(BRONZE_EH_STREAMING):
        return set()
    rows = lake.read(BRONZE_EH_STREAMING, columns=["source_id", "partition_id", "sequence_number"])
    keys = set(rows.iter_rows())
    assert len(keys) == rows.height, "bronze.eh_streaming holds an event twice"
    return keys


def log_keys(log: LocalEventLog) -> Keys:
    snapshot = log.snapshot()
    return {
        (snapshot.source_id, pid, n)
        for pid, bounds in snapshot.bounds.items()
        for n in range(bounds.first, bounds.last + 1)
    }


def hub_keys(emulator: EventHubEmulator, source_id: str) -> Keys:
    """What the hub retains, under the id the lake must give it."""
    return {(source_id, e.partition_id, e.sequence_number) for e in emulator.events(HUB)}


def hub_source_id(emulator: EventHubEmulator) -> str:
    from paisa_assets.resources.azure_event_hubs import AzureEventHubs

    return (
        AzureEventHubs(connection_string=emulator.connection_string, eventhub_name=HUB)
        .snapshot()
        .source_id
    )


def distinct_reviews(payloads: Iterable[bytes]) -> int:
    records = [orjson.loads(p) for p in payloads]
    return len({review_id(r["reviewerID"], r["asin"]) for r in records})


def publish_round_robin(emulator: EventHubEmulator, payloads: list[bytes]) -> None:
    for n, pid in enumerate(emulator.partition_ids(HUB)):
        emulator.publish(HUB, payloads[n :: len(emulator.partition_ids(HUB))], partition_id=pid)


def wait_until_bronze_is(lake: Lakehouse, expected: Keys, timeout: float, what: str) -> None:
    wait_for(lambda: bronze_keys(lake) == expected, timeout, what)


def wait_until_idle(daemon: Daemon, timeout: float = 120) -> None:
    """No streaming run queued or running (silver is written last in a run)."""
    active = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
    ]
    wait_for(lambda: not daemon.runs("streaming_job", active), timeout, "stream runs to end")


def ranges_of(record) -> list[tuple[str, int, int]]:
    config = record.dagster_run.run_config["ops"]["bronze__eh_streaming"]["config"]
    return [(r["partition_id"], r["first"], r["last"]) for r in config["ranges"]]


def failure_messages(daemon: Daemon, run_id: str) -> list[str]:
    with daemon.instance() as instance:
        records = instance.get_records_for_run(
            run_id, of_type=DagsterEventType.PIPELINE_FAILURE
        ).records
    return [r.event_log_entry.message or "" for r in records]


def test_a_range_failing_three_times_with_a_backlog_and_no_new_events_is_ingested(
    tmp_path: Path,
) -> None:
    log = LocalEventLog(root=str(tmp_path / "events"), hub=HUB)
    payloads = generated_payloads(40, seed=41)  # 10 per partition, 4 per run: a backlog
    log.publish(payloads)
    lake = lake_of(tmp_path)
    with running_daemon(
        tmp_path,
        **FAST_SENSOR,
        PAISA_EVENTHUB_MAX_EVENTS_PER_RUN="4",
        PAISA_FAIL_AT="streaming.before_range*3",
        PAISA_FAULT_STATE=str(tmp_path / "faults.count"),
    ) as daemon:
        # Six runs or more one after another (three failures, then ranges of up to four events
        # per partition), each a fresh run worker, and a sensor tick between two: generous, as a
        # run worker's start-up takes many seconds on a loaded machine.
        wait_until_bronze_is(lake, log_keys(log), 600, "bronze to hold all 40 events")
        wait_until_idle(daemon)
        runs = daemon.runs("streaming_job")
    failed = [r for r in runs if r.dagster_run.status == DagsterRunStatus.FAILURE]
    succeeded = [r for r in runs if r.dagster_run.status == DagsterRunStatus.SUCCESS]
    assert len(failed) == 3  # no retry by the daemon: the sensor asked again, with no new event
    first_range = [(p, 0, 3) for p in "0123"]
    assert ranges_of(failed[0]) == first_range
    assert first_range in [ranges_of(r) for r in succeeded]
    # The successful runs fetched every event once: no range twice, nothing left out.
    fetched = sorted((p, n) for r in succeeded for p, a, b in ranges_of(r) for n in range(a, b + 1))
    assert fetched == sorted((p, n) for p in "0123" for n in range(10))
    assert lake.count(SILVER_REVIEWS_STREAMING) == distinct_reviews(payloads)
    assert lake.count(BRONZE_REVIEWS_STREAMING) == 40


def worker_pid(daemon: Daemon, run_id: str) -> int | None:
    from paisa_assets.run_health import worker_pid as reported_pid

    with daemon.instance() as instance:
        return reported_pid(instance, run_id)


def test_a_killed_run_is_failed_and_its_range_ingested_while_a_later_one_succeeds(
    tmp_path: Path,
) -> None:
    log = LocalEventLog(root=str(tmp_path / "events"), hub=HUB)
    payloads = generated_payloads(2_400, seed=42)  # 600 per partition, 300 per run
    log.publish(payloads)
    lake = lake_of(tmp_path)
    with running_daemon(
        tmp_path,
        **FAST_SENSOR,
        PAISA_EVENTHUB_MAX_EVENTS_PER_RUN="300",
        # The first run's worker stops for good once partition 0's range is committed.
        PAISA_HANG_AT="streaming.after_range",
        PAISA_FAULT_STATE=str(tmp_path / "faults.count"),
    ) as daemon:
        wait_for(lambda: len(bronze_keys(lake)) == 300, 120, "the first run to commit one range")
        first = daemon.runs("streaming_job")[0]
        assert ranges_of(first) == [(p, 0, 299) for p in "0123"]
        # The next range is planned while the first run holds the stream pool.
        wait_for(
            lambda: len(daemon.runs("streaming_job", [DagsterRunStatus.QUEUED])) == 1,
            60,
            "a second run queued behind the first",
        )
        (second,) = daemon.runs("streaming_job", [DagsterRunStatus.QUEUED])
        assert ranges_of(second) == [(p, 300, 599) for p in "0123"]
        # The host loses the code server that launched the run, then the run worker (an OOM
        # kill, a crash): nobody is left to report the run's end.
        pid = worker_pid(daemon, first.dagster_run.run_id)
        assert pid is not None
        worker = psutil.Process(pid)
        worker.parent().kill()
        worker.kill()
        wait_until_bronze_is(lake, log_keys(log), 300, "bronze to hold all 2,400 events")
        wait_until_idle(daemon)
        runs = {r.dagster_run.run_id: r for r in daemon.runs("streaming_job")}
        (message,) = failure_messages(daemon, first.dagster_run.run_id)
    assert runs[first.dagster_run.run_id].dagster_run.status == DagsterRunStatus.FAILURE
    assert f"the run worker (pid {pid}) is gone without finishing the run" in message
    assert runs[second.dagster_run.run_id].dagster_run.status == DagsterRunStatus.SUCCESS
    later = [r for r in runs.values() if r.dagster_run.run_id != first.dagster_run.run_id]
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in later)
    # The killed run's uncommitted ranges were asked for again, and nothing twice.
    fetched = sorted((p, n) for r in later for p, a, b in ranges_of(r) for n in range(a, b + 1))
    assert fetched == sorted((p, n) for p in "0123" for n in range(600) if p != "0" or n >= 300)
    assert lake.count(SILVER_REVIEWS_STREAMING) == distinct_reviews(payloads)


def test_an_aged_hub_is_ingested_from_its_beginning_and_the_expired_events_reported(
    tmp_path: Path,
) -> None:
    with EventHubEmulator(port=0, partitions=4, hubs=(HUB,)) as emulator:
        publish_round_robin(emulator, generated_payloads(200, seed=43))
        # The hub has run for weeks: only the newest 20 of each partition's 50 are left.
        assert emulator.set_retention(HUB, Retention(max_events=20)) == {p: 30 for p in "0123"}
        source_id = hub_source_id(emulator)
        lake = lake_of(tmp_path)
        with running_daemon(
            tmp_path, **FAST_SENSOR, PAISA_EVENTHUB_CONNECTION_STRING=emulator.connection_string
        ) as daemon:
            wait_until_bronze_is(lake, hub_keys(emulator, source_id), 240, "the 80 retained")
            wait_until_idle(daemon)
            with daemon.instance() as instance:
                event = instance.get_latest_materialization_event(
                    AssetKey(["bronze", "eh_streaming"])
                )
                (run,) = daemon.runs("streaming_job")
                checks = instance.get_records_for_run(
                    run.dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
                ).records
    metadata = event.asset_materialization.metadata
    assert metadata["expired_before_ingestion"].value == 120
    assert metadata["expired_per_partition"].value == {p: 30 for p in "0123"}
    (check,) = [r.event_log_entry.dagster_event.event_specific_data for r in checks]
    assert check.metadata["expired_before_ingestion"].value == 120
    assert check.metadata["missing"].value == 0
    assert check.metadata["held"].value == 80
    assert check.passed is False  # a warning: events were lost before bronze could read them
    assert check.severity.value == "WARN"
    assert lake.count(SILVER_REVIEWS_STREAMING) == 80


def test_switching_from_the_local_log_to_a_hub_and_restarting_the_emulator_skips_nothing(
    tmp_path: Path,
) -> None:
    lake = lake_of(tmp_path)
    log = LocalEventLog(root=str(tmp_path / "events"), hub=HUB)
    local = generated_payloads(20, seed=44)
    log.publish(local)
    with running_daemon(tmp_path, **FAST_SENSOR):
        wait_until_bronze_is(lake, log_keys(log), 180, "the local log's 20 events")
    expected = log_keys(log)

    # The documented switch: PAISA_EVENTHUB_CONNECTION_STRING. The hub numbers its events from
    # 0 too, the same sequence numbers bronze already holds for the local log.
    first_hub = generated_payloads(20, seed=45)
    second_hub = generated_payloads(12, seed=46)
    with EventHubEmulator(port=0, partitions=4, hubs=(HUB,)) as emulator:
        publish_round_robin(emulator, first_hub)
        port, first_id = emulator.port, hub_source_id(emulator)
        with running_daemon(
            tmp_path, **FAST_SENSOR, PAISA_EVENTHUB_CONNECTION_STRING=emulator.connection_string
        ) as daemon:
            expected |= hub_keys(emulator, first_id)
            wait_until_bronze_is(lake, expected, 180, "the hub's 20 events beside the log's")
            emulator.stop()
            # The in-memory emulator starts again on the same address: a new hub, numbered
            # from 0 again.
            with EventHubEmulator(port=port, partitions=4, hubs=(HUB,)) as restarted:
                publish_round_robin(restarted, second_hub)
                second_id = hub_source_id(restarted)
                assert second_id != first_id
                expected |= hub_keys(restarted, second_id)
                wait_until_bronze_is(lake, expected, 180, "the restarted hub's 12 events")
                wait_until_idle(daemon)
    assert len(expected) == 52
    per_source = lake.read(BRONZE_EH_STREAMING).group_by("source_id").len()
    assert sorted(per_source["len"].to_list()) == [12, 20, 20]
    assert lake.count(BRONZE_REVIEWS_STREAMING) == 52
    assert lake.count(SILVER_REVIEWS_STREAMING) == distinct_reviews(
        [*local, *first_hub, *second_hub]
    )
    assert (
        pl.Series(lake.read(SILVER_REVIEWS_STREAMING, columns=["review_id"])["review_id"])
        .is_unique()
        .all()
    )
