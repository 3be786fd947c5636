"""One migrated MLflow store per test session, copied into each workspace.

Creating and migrating an MLflow SQLite store takes seconds (3-13 s here, with five engineers
sharing two cores) against a fraction of a second to copy one already migrated, and about
twenty tests each start from a fresh store. The template is built lazily, on the first test
that needs a store, through the same `ensure_store` the product uses, and removed when the
session's process exits. `prepare_in_background` starts building it at the session's start, so
that the migration (mostly waiting on SQLite commits) overlaps the first tests instead of
delaying the first one that needs a store. It migrates in a process of its own: MLflow
migrates with alembic, whose context is a process-wide global, and a migration on a thread beside
a test creating a Dagster SQLite instance (alembic too) broke one of them at random
(`KeyError: 'config'` from `DagsterInstance.get()`).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

_MIGRATE = (
    "import sys\n"
    "from paisa_assets.resources.mlflow_tracking import artifact_uri_of, ensure_store, "
    "tracking_uri_of\n"
    "ensure_store(tracking_uri_of(sys.argv[1]), artifact_uri_of(sys.argv[2]))\n"
)

_building = threading.Lock()


def migrated_store() -> Path:
    """A freshly migrated, empty store (no experiment but MLflow's Default)."""
    with _building:  # the background build and a test may ask at once: one build
        return _migrated_store()


def prepare_in_background() -> None:
    """Start building the template on a daemon thread; `migrated_store` waits for it."""
    threading.Thread(target=migrated_store, name="mlflow-template", daemon=True).start()


@functools.cache
def _migrated_store() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="paisa-mlflow-template-"))
    atexit.register(shutil.rmtree, folder, True)
    database = folder / "mlflow.db"
    subprocess.run(
        [sys.executable, "-c", _MIGRATE, str(database), str(folder / "artifacts")],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return database


def seed_store(database: Path) -> None:
    """Put a copy of the migrated template at `database`, unless a store is already there."""
    if database.exists():
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_store(), database)
