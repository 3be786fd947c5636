"""One migrated MLflow store per test session, copied into each workspace.

Creating and migrating an MLflow SQLite store costs about 5 CPU-seconds against a fraction of a
second to copy one already migrated, and about twenty tests each start from a fresh store. The
session's controller process (pytest without xdist, or xdist's controller) starts building the
template when the session starts, through the same `ensure_store` the product uses, and every
worker copies it: one migration per session, not one per worker. The build overlaps the first
tests; a test that needs a store before it is done waits for it. It migrates in a process of its
own: MLflow migrates with alembic, whose context is a process-wide global, and a migration on a
thread beside a test creating a Dagster SQLite instance (alembic too) broke one of them at random
(`KeyError: 'config'` from `DagsterInstance.get()`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Where the controller's template appears once migrated (inherited by xdist's workers).
TEMPLATE_VARIABLE = "PAISA_TEST_MLFLOW_TEMPLATE"
BUILD_TIMEOUT_SECONDS = 600

# Migrated under another name, then renamed: a worker never copies a half-built store.
_MIGRATE = (
    "import os, sys, traceback\n"
    "from paisa_assets.resources.mlflow_tracking import artifact_uri_of, ensure_store, "
    "tracking_uri_of\n"
    "building, final, artifacts = sys.argv[1:]\n"
    "try:\n"
    "    ensure_store(tracking_uri_of(building), artifact_uri_of(artifacts))\n"
    "except BaseException:\n"
    "    open(final + '.failed', 'w').write(traceback.format_exc())\n"
    "    raise\n"
    "os.replace(building, final)\n"
)


class TemplateBuild:
    """The controller's build of the session's template (`start`, then `stop` at the end)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="paisa-mlflow-template-"))
        self.database = self.folder / "mlflow.db"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _MIGRATE,
                str(self.folder / "building.db"),
                str(self.database),
                str(self.folder / "artifacts"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.environ[TEMPLATE_VARIABLE] = str(self.database)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def migrated_store() -> Path:
    """The session's migrated, empty store (no experiment but MLflow's Default)."""
    variable = os.environ.get(TEMPLATE_VARIABLE)
    if variable is None:
        raise RuntimeError(f"{TEMPLATE_VARIABLE} is unset: conftest's pytest_configure sets it")
    database = Path(variable)
    deadline = time.monotonic() + BUILD_TIMEOUT_SECONDS
    failed = database.with_name(database.name + ".failed")
    while not database.exists():
        if failed.exists():
            why = failed.read_text()
            raise RuntimeError(f"migrating the session's MLflow store failed:\n{why}")
        if time.monotonic() > deadline or not database.parent.exists():
            raise RuntimeError(f"the session's MLflow store was not built in {database.parent}")
        time.sleep(0.1)
    return database


def seed_store(database: Path) -> None:
    """Put a copy of the migrated template at `database`, unless a store is already there."""
    if database.exists():
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_store(), database)
