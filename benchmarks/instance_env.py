"""What the daemon-path benchmarks share: a fresh instance and lake under one folder, and a
`dagster-daemon` on it that is stopped with its whole process group."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from paisa_assets.settings import paths_under

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def paisa_env(root: Path) -> dict[str, str]:
    """The environment of a paisa process whose instance (seeded with the project's
    dagster.yaml) and every data path are under `root`; no PAISA_* or MLFLOW_* setting of the
    calling environment leaks in, so every other setting is the project's default."""
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PAISA_", "MLFLOW_"))}
    return inherited | {"DAGSTER_HOME": str(home)} | paths_under(root)


@contextmanager
def running_daemon(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """`dagster-daemon` from the repository's workspace.yaml on the instance `env` names (its
    storage created first: two processes creating it at once fail)."""
    from dagster import DagsterInstance

    DagsterInstance.from_config(env["DAGSTER_HOME"]).dispose()
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield daemon
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()
