"""The MLflow store: created once, safely, when several run workers start on a new one; and the
tests' migrated template, which spares each test a migration."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from paisa_assets.ml.recommender_champion import RECOMMENDER_MODEL
from paisa_assets.ml.sentiment_champion import SENTIMENT_MODEL
from paisa_assets.resources.mlflow_tracking import MlflowTracking
from paisa_assets_tests.conftest import make_workspace

WORKER = textwrap.dedent(
    """
    import sys, time
    from paisa_assets.resources.mlflow_tracking import MlflowTracking

    database, start, name = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    tracking = MlflowTracking(tracking_uri=database, artifact_root=database + ".artifacts")
    time.sleep(max(0.0, start - time.time()))  # every worker reaches the new store together
    tracking.client().create_experiment(name)
    """
)


@pytest.mark.slow
def test_concurrent_workers_create_one_store_without_migration_races(tmp_path: Path) -> None:
    """Two gold runs once migrated the same new SQLite store at the same moment and one failed
    ("alembic ... Online migration expected to match one row"); under the file lock all of
    them succeed and share one store."""
    database = tmp_path / "mlflow" / "mlflow.db"
    start = time.time() + 8  # after the three interpreters have imported mlflow
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(database), str(start), f"run-{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    outcomes = [(worker.wait(timeout=300), worker.stderr.read()) for worker in workers]
    assert [code for code, _ in outcomes] == [0, 0, 0], [err[-2000:] for _, err in outcomes]
    names = {
        e.name for e in MlflowTracking(tracking_uri=str(database)).client().search_experiments()
    }
    assert names == {"Default", "run-0", "run-1", "run-2"}
    assert (database.parent / "mlflow.db.lock").exists()


def test_workspaces_start_from_the_migrated_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workspace's store is a copy of the session's migrated one: using it runs no
    migration (MLflow's table initialisation is made to fail to prove it)."""
    import mlflow.store.db.utils as db_utils

    workspace = make_workspace(tmp_path)
    assert (tmp_path / "mlflow" / "mlflow.db").exists()

    def no_migration(engine: object) -> None:
        raise AssertionError("the store was migrated again")

    monkeypatch.setattr(db_utils, "_initialize_tables", no_migration)
    client = workspace.mlflow_tracking.client()
    client.create_experiment("probe")
    assert {e.name for e in client.search_experiments()} == {"Default", "probe"}


NO_CHAMPION_PROBE = textwrap.dedent(
    """
    import sys
    from paisa_assets.resources.mlflow_tracking import MlflowTracking

    model, *databases = sys.argv[1:]
    for database in databases:
        tracking = MlflowTracking(tracking_uri=database, artifact_root=database + ".artifacts")
        print(tracking.champion(model))
    print("mlflow" in sys.modules)
    """
)


def test_a_champion_is_looked_up_in_mlflow_only_when_the_store_may_hold_one(
    tmp_path: Path,
) -> None:
    """Gold runs ask for the sentiment champion before any training: a store not created yet,
    or one whose aliases name no champion of that model, answers None without importing MLflow
    (or creating the store); one with the alias goes through MLflow and gets its version."""
    workspace = make_workspace(tmp_path / "workspace")
    tracking = workspace.mlflow_tracking
    client = tracking.client()
    for name in (SENTIMENT_MODEL, RECOMMENDER_MODEL):
        client.create_registered_model(name)
        client.create_model_version(name, source=str(tmp_path / "model"))
    client.set_registered_model_alias(RECOMMENDER_MODEL, "champion", "1")
    missing = tmp_path / "nowhere" / "mlflow.db"
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            NO_CHAMPION_PROBE,
            SENTIMENT_MODEL,
            str(missing),
            tracking.tracking_uri,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert probe.stdout.split() == ["None", "None", "False"], probe.stderr[-2000:]
    assert not missing.exists()

    assert int(tracking.champion(RECOMMENDER_MODEL).version) == 1
    client.set_registered_model_alias(SENTIMENT_MODEL, "champion", "1")
    assert int(tracking.champion(SENTIMENT_MODEL).version) == 1
