"""Streaming runs as the Dagster instance records them: what they are fetching, and which of them
died without telling anyone.

In-flight ranges come from the run records (each run's config says which ranges it fetches),
not from a sensor cursor: a cursor cannot know that a run failed, was retried or is still queued.

A run worker killed outright (SIGKILL, the OOM killer) leaves its run STARTED for ever: the
local run launcher cannot check a worker's health, so run monitoring never notices, and the
run keeps the stream pool, so every later streaming run queues behind it. The worker logs its
pid when it starts; when that process is gone (or the pid now belongs to a younger process),
the run is marked failed, which frees the pool and lets the sensor ask for its ranges again.
This is only done for the local run launcher, whose workers run on this host; other launchers
check their workers themselves (and `dagster/max_runtime` on every stream run is the backstop).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import psutil
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultRunLauncher,
    RunRecord,
    RunsFilter,
)

from paisa_assets.streaming.plan import Interval, normalise

# Every status in which a run may still write (QUEUED included: IN_PROGRESS_RUN_STATUSES lacks it).
ACTIVE_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
STREAM_OP = "bronze__eh_streaming"
# Ranges a run added to its own at start (newer events than the sensor saw), as JSON
# [[partition id, first, last], ...]: in flight like the ones in its config.
EXTRA_RANGES_TAG = "paisa/extra_ranges"
# A worker process created this long after its run started is another process with a reused pid.
PID_REUSE_MARGIN_SECONDS = 5.0


def active_runs(instance: DagsterInstance, job_name: str) -> list[RunRecord]:
    return list(instance.get_run_records(RunsFilter(job_name=job_name, statuses=ACTIVE_STATUSES)))


def stream_config(run_config: Mapping[str, Any]) -> Mapping[str, Any]:
    return run_config.get("ops", {}).get(STREAM_OP, {}).get("config", {}) or {}


def in_flight_ranges(records: Iterable[RunRecord], source_id: str) -> dict[str, list[Interval]]:
    """Per partition, the ranges that active runs for `source_id` are fetching: those in their
    config, and those they added at start (the `paisa/extra_ranges` tag)."""
    flying: dict[str, list[Interval]] = {}
    for record in records:
        run = record.dagster_run
        config = stream_config(run.run_config)
        if (config.get("source_id") or source_id) != source_id:
            continue
        ranges = [(w["partition_id"], w["first"], w["last"]) for w in config.get("ranges", [])]
        ranges += json.loads(run.tags.get(EXTRA_RANGES_TAG, "[]"))
        for partition_id, first, last in ranges:
            flying.setdefault(str(partition_id), []).append((int(first), int(last)))
    return {pid: normalise(ranges) for pid, ranges in flying.items()}


def tag_extra_ranges(instance: DagsterInstance, run_id: str, ranges: Iterable[Any]) -> None:
    """Record ranges a run took on beyond its config, before it reads them."""
    value = json.dumps([[r.partition_id, r.first, r.last] for r in ranges])
    instance.add_run_tags(run_id, {EXTRA_RANGES_TAG: value})


def worker_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The pid the run worker reported when it started ("Started process for run (pid: N)",
    or the in-process executor's "Executing steps in process"); None before it did."""
    events = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    for record in events:
        event = record.event_log_entry.dagster_event
        data = event.engine_event_data if event is not None else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None:
            return int(str(pid.value))
    return None


def worker_alive(pid: int, run_started: float | None) -> bool:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return run_started is None or process.create_time() <= (
            run_started + PID_REUSE_MARGIN_SECONDS
        )
    except psutil.NoSuchProcess:
        return False


def fail_runs_with_dead_workers(
    instance: DagsterInstance, records: Iterable[RunRecord]
) -> list[RunRecord]:
    """Mark STARTED runs whose local worker process is gone as failed; returns those runs."""
    if not isinstance(instance.run_launcher, DefaultRunLauncher):
        return []
    failed = []
    for record in records:
        run = record.dagster_run
        if run.status != DagsterRunStatus.STARTED:
            continue
        pid = worker_pid(instance, run.run_id)
        if pid is None or worker_alive(pid, record.start_time):
            continue
        latest = instance.get_run_by_id(run.run_id)  # not failed meanwhile by someone else
        if latest is None or latest.status != DagsterRunStatus.STARTED:
            continue
        instance.report_run_failed(
            run,
            f"The run worker (pid {pid}) is gone without reporting an end (killed?); "
            "marked failed so that its ranges are requested again.",
        )
        failed.append(record)
    return failed
