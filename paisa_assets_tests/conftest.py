"""Shared fixtures: a landing zone, lake and warehouse in a temporary folder, and a real
(ephemeral) Dagster instance to run the asset graph through."""

from __future__ import annotations

import compileall
import gzip
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from dagster import DagsterInstance, Definitions
from hypothesis import settings

from paisa_assets.definitions import build_definitions
from paisa_assets.generator import generate_landing_zone
from paisa_assets.resources.dashboard_site import DashboardSite
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import LandingZone, LocalLandingZone
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.resources.mlflow_tracking import MlflowTracking
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.runner import materialize_everything, sync_partitions
from paisa_assets.settings import paths_under
from paisa_assets_tests.support.azurite import running_azurite
from paisa_assets_tests.support.mlflow_store import TemplateBuild, seed_store

# The property tests assert values, not speed: Hypothesis's default 200 ms deadline per example
# fails them at random on a loaded machine (several test workers on two cores).
settings.register_profile("paisa", deadline=None)
settings.load_profile("paisa")


@dataclass
class Workspace:
    root: Path
    landing: LocalLandingZone
    lakehouse: Lakehouse
    warehouse: Warehouse
    defs: Definitions
    mlflow_tracking: MlflowTracking

    @property
    def landing_root(self) -> Path:
        return self.root / "landing"

    def write_landing_file(
        self, relative: str, records: list[dict], raw_lines: tuple[bytes, ...] = ()
    ) -> Path:
        """A gzip JSON-lines file in the landing zone; `raw_lines` are appended verbatim."""
        path = self.landing_root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [orjson.dumps(record) for record in records] + list(raw_lines)
        path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n", mtime=0))
        return path

    def versions(self, tables: list[str]) -> dict[str, int | None]:
        return {table: self.lakehouse.version(table) for table in tables}


def local_settings_env(root: Path) -> dict[str, str]:
    """Environment for a paisa or dagster process whose every default path is under `root`,
    so a subprocess test never writes into the repository's data/ folder (its MLflow store
    seeded with a copy of the session's migrated one)."""
    seed_store(root / "mlflow" / "mlflow.db")
    return paths_under(root)


def make_workspace(
    root: Path,
    *,
    landing: LandingZone | None = None,
    lakehouse: Lakehouse | None = None,
    events: EventSource | None = None,
) -> Workspace:
    """Every resource under `root` (a test never writes to the repository's data/), except the
    landing zone, lake or event source a test brings (Azurite, the Event Hubs emulator)."""
    landing = landing or LocalLandingZone(root=str(root / "landing"))
    lakehouse = lakehouse or Lakehouse(root=str(root / "lake"))
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    events = events or LocalEventLog(root=str(root / "events"))
    seed_store(root / "mlflow" / "mlflow.db")  # a copy of a migrated store: no migration
    mlflow_tracking = MlflowTracking(
        tracking_uri=str(root / "mlflow" / "mlflow.db"),
        artifact_root=str(root / "mlflow" / "artifacts"),
    )
    return Workspace(
        root,
        landing,
        lakehouse,
        warehouse,
        build_definitions(
            landing,
            lakehouse,
            warehouse,
            events,
            mlflow_tracking,
            dashboard_site=DashboardSite(path=str(root / "dashboard" / "index.html")),
        ),
        mlflow_tracking,
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The blob endpoint of an in-memory Azurite on 127.0.0.1, one per test session."""
    with running_azurite(tmp_path_factory.mktemp("azurite")) as endpoint:
        yield endpoint


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as dagster_instance:
        yield dagster_instance


def review(n: int, **overrides: object) -> dict:
    """A valid batch review; `n` makes reviewer and product distinct per call."""
    record = {
        "asin": f"B{n % 7:09d}",
        "reviewerID": f"A{n:013d}",
        "reviewerName": f"Reviewer {n}",
        "overall": float(1 + n % 5),
        "reviewText": "Works as described, would buy again.",
        "summary": "Good",
        "unixReviewTime": 1_400_000_000 + n * 86_400,
        "reviewTime": "05 13, 2014",
        "verified": True,
    }
    record.update(overrides)
    return record


def product(n: int, **overrides: object) -> dict:
    record = {
        "asin": f"B{n:09d}",
        "title": f"Product {n}",
        "main_cat": "Toys &amp; Games",
        "price": f"${n + 1}.99",
        "category": ["Toys &amp; Games", "Puzzles"],
    }
    record.update(overrides)
    return record


@contextmanager
def generated_lake(
    root: Path, *, reviews: int, seed: int
) -> Iterator[tuple[Workspace, DagsterInstance]]:
    """A workspace whose generated landing zone is ingested through gold, with its instance."""
    workspace = make_workspace(root)
    generate_landing_zone(
        workspace.landing_root,
        reviews=reviews,
        review_partitions=4,
        metadata_partitions=2,
        seed=seed,
        progress=False,
    )
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, workspace.landing)
        materialize_all(instance, workspace)
        yield workspace, instance


def materialize_all(instance: DagsterInstance, workspace: Workspace) -> None:
    """Ingest every landing folder and rebuild gold; every run and every asset check must pass."""
    summaries = materialize_everything(instance, workspace.defs)
    assert [(s.job, s.success, s.failed_checks) for s in summaries] == [
        (s.job, True, []) for s in summaries
    ]


REPOSITORY = Path(__file__).resolve().parent.parent
_TEMPLATE_BUILD = pytest.StashKey[TemplateBuild]()


def pytest_configure(config: pytest.Config) -> None:
    """Cache the repository's bytecode once, before the workers start. The suite starts
    hundreds of Python processes (run workers, daemons, CLIs, parse workers) that import the
    project's source; where PYTHONDONTWRITEBYTECODE is set (as on CI machines and in many
    containers), none of them can write its .pyc, so each one compiled every module again.
    Installed packages are compiled by the installer (`uv pip install --compile-bytecode`).

    pytest caches the assertion-rewritten bytecode of the test modules only where Python may
    write bytecode: otherwise every xdist worker, which collects every module, parsed and
    compiled them all again (about 3 CPU-seconds per worker)."""
    sys.dont_write_bytecode = False
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        for package in ("paisa_assets", "paisa_assets_tests", "emulator", "benchmarks"):
            compileall.compile_dir(REPOSITORY / package, quiet=1, workers=0)
        # The MLflow store template, migrated once for the session while the first tests run.
        config.stash[_TEMPLATE_BUILD] = TemplateBuild()


def pytest_unconfigure(config: pytest.Config) -> None:
    if (build := config.stash.get(_TEMPLATE_BUILD, None)) is not None:
        build.stop()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for `-n auto` (addopts): one more than the cores, the extra one filling the time
    the slow tests wait on a daemon, a run worker or a service. Twice the cores was slower: on
    2 cores, clean-clone CI ran pytest in 453 s on 4 workers and 407 s on 3 (the in-process
    tests took ~20% more CPU on 4 workers than on 2: every worker imports and collects the
    whole suite, and the processes contend). PAISA_TEST_WORKERS overrides."""
    return int(os.environ.get("PAISA_TEST_WORKERS", (os.cpu_count() or 1) + 1))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow tests first (a stable sort: each module keeps its own order, which
    tests sharing a module-scoped fixture build on). pytest-xdist hands work out in this order,
    so the long daemon and service tests start at once and the quick ones fill the gaps at the
    end, instead of one long test starting last on a busy worker."""
    slow_modules = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_modules)
