"""The MLflow resource: where runs, models and the model registry live.

A plain path (the zero-configuration default, `data/mlflow/mlflow.db`) is a local SQLite store,
which has the model registry and aliases a file store lacks, with artifacts in a folder beside
it; any MLflow URI (`http://...`, `databricks`, `sqlite:///...`) is used as given. MLflow keeps
its tracking URI in process-wide state, so every use goes through `activated()`, which sets it
for the duration of one block and puts the previous one back.

mlflow is imported inside the methods: importing it costs seconds, and every Dagster step
process (bronze and silver included) loads this module with the code location.
"""

import fcntl
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource
from pydantic import Field

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

CHAMPION = "champion"
MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
SQLITE_PREFIX = "sqlite:///"
# SQLite stores this process has seen created and migrated.
_READY_STORES: set[str] = set()


def ensure_store(uri: str, artifact_root: str) -> None:
    """Create and migrate a local SQLite store exactly once, whatever runs at the same time.

    MLflow creates the schema of an empty database on first use, with no lock: two run
    workers starting on a new store both see it empty and both migrate, and one fails
    ("alembic ... Online migration expected to match one row"). An exclusive `flock` on a file
    beside the database serialises that first use across processes; later calls in this
    process return at once, and later processes find the tables and only check them.
    """
    if not uri.startswith(SQLITE_PREFIX) or uri in _READY_STORES:
        return
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    database = Path(uri.removeprefix(SQLITE_PREFIX))
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            TrackingStore(uri, artifact_root)
            RegistryStore(uri)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _READY_STORES.add(uri)


def tracking_uri_of(location: str) -> str:
    """`data/mlflow/mlflow.db` -> `sqlite:////abs/data/mlflow/mlflow.db`; URIs unchanged."""
    if "://" in location or location == "databricks":
        return location
    path = Path(location).expanduser().absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def artifact_uri_of(location: str) -> str:
    if "://" in location:
        return location
    path = Path(location).expanduser().absolute()
    path.mkdir(parents=True, exist_ok=True)
    return path.as_uri()


class MlflowTracking(ConfigurableResource):
    """MLflow tracking and registry settings shared by every model asset."""

    tracking_uri: str = Field(
        default="data/mlflow/mlflow.db",
        description="An MLflow tracking URI, or a local path for a SQLite store.",
    )
    artifact_root: str = Field(
        default="data/mlflow/artifacts",
        description="Where a new experiment stores its artifacts (local stores only).",
    )
    experiment: str = Field(default="paisa", description="MLflow experiment of every paisa run.")

    def resolved_tracking_uri(self) -> str:
        return tracking_uri_of(self.tracking_uri)

    def ready_uri(self) -> str:
        """The tracking URI, its SQLite store created and migrated (once, under a lock)."""
        uri = self.resolved_tracking_uri()
        if uri.startswith(SQLITE_PREFIX):
            ensure_store(uri, artifact_uri_of(self.artifact_root))
        return uri

    def client(self) -> "MlflowClient":
        from mlflow import MlflowClient

        uri = self.ready_uri()
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    @contextmanager
    def activated(self) -> Iterator[str]:
        """Point MLflow's fluent API at this store for one block; yields the experiment id.

        `mlflow.set_tracking_uri` also exports MLFLOW_TRACKING_URI (and the registry's) into
        this process's environment; both are put back as they were, or paisa's own settings,
        which read that variable, would afterwards see MLflow's default store instead.
        """
        import mlflow

        saved = {name: os.environ.get(name) for name in MLFLOW_URI_VARIABLES}
        uri = self.ready_uri()
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield self._experiment_id()
        finally:
            mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # None: MLflow's default
            mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    @contextmanager
    def start_run(self, run_name: str) -> Iterator[Any]:
        """An MLflow run in this store's experiment; the fluent API logs into it."""
        import mlflow

        with (
            self.activated() as experiment_id,
            mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run,
        ):
            yield run

    def _experiment_id(self) -> str:
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is not None:
            return experiment.experiment_id
        location = None if "://" in self.tracking_uri else artifact_uri_of(self.artifact_root)
        return client.create_experiment(self.experiment, artifact_location=location)

    def champion(self, model_name: str) -> "ModelVersion | None":
        """The version the `champion` alias points at, or None before the first promotion."""
        if self._surely_without_champion(model_name):
            return None
        from mlflow.exceptions import MlflowException

        try:
            return self.client().get_model_version_by_alias(model_name, CHAMPION)
        except MlflowException:
            return None

    def _surely_without_champion(self, model_name: str) -> bool:
        """True when a local SQLite store shows that the model has no champion, read without
        MLflow: the store does not exist yet, or its alias table has no such alias.

        Every gold run scores with the champion, and before the first training there is none:
        importing MLflow (about 1.5 CPU-seconds in each run's process) and migrating a new
        store only to learn that is most of such a run. Any doubt (a server, a store this read
        cannot open, a schema without that table) answers False and MLflow decides.
        """
        uri = self.resolved_tracking_uri()
        if not uri.startswith(SQLITE_PREFIX):
            return False
        path = Path(uri.removeprefix(SQLITE_PREFIX))
        if not path.exists():
            return True
        read_only = f"{path.absolute().as_uri()}?mode=ro"
        try:
            with closing(sqlite3.connect(read_only, uri=True, timeout=30)) as con:
                row = con.execute(
                    "SELECT 1 FROM registered_model_aliases WHERE name = ? AND alias = ?",
                    (model_name, CHAMPION),
                ).fetchone()
        except sqlite3.Error:
            return False
        return row is None

    def promote(self, model_name: str, version: str | int) -> None:
        self.client().set_registered_model_alias(model_name, CHAMPION, str(version))

    def tag_version(self, model_name: str, version: str | int, tags: Mapping[str, str]) -> None:
        client = self.client()
        for key, value in tags.items():
            client.set_model_version_tag(model_name, str(version), key, value)

    def run_link(self, run_id: str) -> str:
        """Where to look at a run: the MLflow UI path when the store is a server, else the id."""
        uri = self.resolved_tracking_uri()
        if uri.startswith(("http://", "https://")):
            experiment_id = self.client().get_run(run_id).info.experiment_id
            return f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
        return f"mlflow ui --backend-store-uri {uri}  (run {run_id})"


def log_json_artifacts(documents: Mapping[str, Any]) -> None:
    """Log each document as `<name>.json` in the active run."""
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        for name, document in documents.items():
            path = Path(folder) / f"{name}.json"
            path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str))
            mlflow.log_artifact(str(path))
