"""The real Dagster daemon (sensors, run queue, run launcher, run monitoring) on a temporary
instance, for tests that must show what users get, not what an in-process call gives."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from paisa_assets_tests.conftest import local_settings_env

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def dagster_env(root: Path, **extra: str) -> dict[str, str]:
    """Environment for a `dagster` process on a fresh instance (root/dagster_home, seeded with
    the project's dagster.yaml) and the workspace under `root`."""
    home = root / "dagster_home"
    home.mkdir(exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    return os.environ | local_settings_env(root) | {"DAGSTER_HOME": str(home)} | extra


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Daemon:
    """A running `dagster-daemon` and the instance it serves (open it with `instance()`)."""

    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    # Opened once while the daemon runs: tests poll `runs()` every second, and opening an
    # instance costs some 30 times the query (storage set-up, schema checks). Every query still
    # reads what the daemon's processes have written since.
    _shared: DagsterInstance | None = field(default=None, init=False, repr=False)

    @contextmanager
    def instance(self) -> Iterator[DagsterInstance]:
        if self._shared is not None:
            yield self._shared
            return
        with DagsterInstance.from_config(self.env["DAGSTER_HOME"]) as instance:
            yield instance

    def _open(self) -> None:
        self._shared = DagsterInstance.from_config(self.env["DAGSTER_HOME"])

    def _close(self) -> None:
        if self._shared is not None:
            self._shared.dispose()
            self._shared = None

    def runs(self, job: str | None = None, statuses: list[DagsterRunStatus] | None = None):
        with self.instance() as instance:
            return list(
                instance.get_run_records(
                    RunsFilter(job_name=job, statuses=statuses or []), ascending=True
                )
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def failures(self, run_ids: list[str]) -> str:
        """Why these runs failed (their step and run failure messages), for an assertion
        message: the daemon log's tail rarely reaches back to the failing run."""
        failed = {DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}
        lines = []
        with self.instance() as instance:
            for run_id in run_ids:
                for record in instance.all_logs(run_id, of_type=failed):
                    event = record.dagster_event
                    error = getattr(event.event_specific_data, "error", None)
                    detail = error.to_string() if error is not None else event.message
                    lines.append(f"{run_id[:8]} {event.step_key or 'run'}: {detail}")
        return "\n".join(lines) or "no failure events"


@contextmanager
def running_daemon(root: Path, **extra_env: str) -> Iterator[Daemon]:
    """`dagster-daemon run` from the repository's workspace.yaml, every path under `root`;
    `extra_env` adds settings (sensor intervals, an event hub...). Stopped by process group."""
    env = dagster_env(root, **extra_env)
    # Create the instance's storage before the daemon starts: two processes migrating a new
    # SQLite storage at once fail ("table alembic_version already exists").
    DagsterInstance.from_config(env["DAGSTER_HOME"]).dispose()
    log_path = root / "daemon.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        daemon = Daemon(env, process, log_path)
        try:
            daemon._open()
            yield daemon
        finally:
            daemon._close()
            # The daemon's children ignore SIGTERM at times: end the whole process group.
            with_group = process.pid
            with suppress(ProcessLookupError):
                os.killpg(with_group, signal.SIGKILL)
            process.wait(timeout=30)
            # pytest keeps only its last few temporary folders; keep the log for a post-mortem.
            kept = Path(tempfile.gettempdir()) / "paisa-daemon-logs"
            kept.mkdir(exist_ok=True)
            shutil.copyfile(log_path, kept / f"{root.name}.log")
