"""Runs as the sensors see them: which are active, and which died without telling anyone.

In-flight work (landing folders, event ranges, a gold rebuild) is read from the instance's run
records, QUEUED ones included (Dagster's IN_PROGRESS statuses leave them out), never from a
cursor or a run key: a cursor cannot know that a run failed, was retried or is still queued.

A run worker killed outright (SIGKILL, the OOM killer) is usually noticed by the code server
that spawned it, which fails the run. When the code server goes down with it (a reboot, `kill
-9` of `paisa dev`), nobody is left to notice: the local `DefaultRunLauncher` cannot check a
worker's health, so run monitoring never does, and the run stays STARTED for ever, holding its
pools and everything the sensors see as in flight. The worker logs its pid when it starts;
when that process is gone (or the pid now names a younger process), the run is marked failed,
which frees its pools and lets the sensor request its work again. Only for the local launcher,
whose workers run on this host; other launchers check their workers themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import psutil
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultRunLauncher,
    RunRecord,
    RunsFilter,
)

# Every status in which a run may still write.
ACTIVE_RUN_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
# A worker process created this long after its run started is another process with a reused pid.
PID_REUSE_MARGIN_SECONDS = 5.0


def active_runs(instance: DagsterInstance, job_name: str) -> list[RunRecord]:
    return list(
        instance.get_run_records(RunsFilter(job_name=job_name, statuses=ACTIVE_RUN_STATUSES))
    )


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
    """The pid names a live process (not a zombie its parent has not reaped) that is not
    younger than the run."""
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
            f"the run worker (pid {pid}) is gone without finishing the run (killed, or out of "
            "memory): marked failed so that its work is requested again",
        )
        failed.append(record)
    return failed


def live_active_runs(
    instance: DagsterInstance, job_name: str, log: logging.Logger | None = None
) -> list[RunRecord]:
    """The job's active runs, after failing (and logging to `log`) those whose worker died."""
    runs = active_runs(instance, job_name)
    dead = {r.dagster_run.run_id for r in fail_runs_with_dead_workers(instance, runs)}
    for run_id in sorted(dead):
        if log is not None:
            log.warning(f"run {run_id}: worker gone, marked failed")
    return [r for r in runs if r.dagster_run.run_id not in dead]
