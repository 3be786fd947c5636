"""Runs whose worker died: found and marked failed, so no sensor waits on them forever.

Dagster's run monitoring notices a dead run worker only through a run launcher that can check
its workers' health (Kubernetes, ECS, Docker). The local `DefaultRunLauncher` cannot: a run
worker killed by the OOM killer or a `kill -9` leaves its run STARTED for ever, and with it the
run's pool slots and every folder or event range a sensor sees as in flight. The run worker logs
its pid when it starts ("Started process for run (pid: N)"); with the local launcher it runs on
this host (the sensor runs in the code server that spawned it), so a pid that no longer names a
live process means the run is dead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunRecord

STARTED_PREFIX = "Started process for run"


def worker_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The pid the run's worker logged, or None (not started yet, or another launcher)."""
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith(STARTED_PREFIX):
            continue
        pid = event.engine_event_data.metadata.get("pid")
        if pid is not None:
            return int(str(pid.value))
    return None


def process_alive(pid: int) -> bool:
    """True while `pid` names a process that is not a zombie (a killed child its parent has
    not reaped yet still answers a signal 0)."""
    proc = Path("/proc")
    if (proc / "self").exists():
        try:
            state = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def launches_local_workers(instance: DagsterInstance) -> bool:
    """Only the default launcher's workers run on this host, where their pids mean something."""
    return type(instance.run_launcher).__name__ == "DefaultRunLauncher"


def fail_dead_runs(instance: DagsterInstance, records: Iterable[RunRecord]) -> list[str]:
    """Mark each STARTED run whose local worker is gone as failed; returns their run ids.

    Failing the run is what run monitoring would do: it frees the run's pool slots, and the
    sensors then see its work as not in flight any more and request it again.
    """
    if not launches_local_workers(instance):
        return []
    failed = []
    for record in records:
        run = record.dagster_run
        if run.status != DagsterRunStatus.STARTED:
            continue
        pid = worker_pid(instance, run.run_id)
        if pid is None or process_alive(pid):
            continue
        instance.report_run_failed(
            run,
            f"the run worker (pid {pid}) is gone without finishing the run (killed, or out of "
            "memory): marked failed so that its work is requested again",
        )
        failed.append(run.run_id)
    return failed
