"""What the reliability tests share: a lake on disk that separate processes can work on, the
driver that runs materializations in them, and the consistency and exactness assertions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from dagster import DagsterInstance
from deltalake import DeltaTable

from paisa_assets.generator import GenerationReport
from paisa_assets.lake_views import count_view, read_view
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.tables import (
    BRONZE_INGESTED_FILES,
    BRONZE_METADATA,
    BRONZE_METADATA_FILES,
    BRONZE_METADATA_QUARANTINE,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_FILES,
    BRONZE_REVIEWS_QUARANTINE,
    GOLD_KPIS,
    GOLD_REVIEWS_ENRICHED,
    SILVER_METADATA,
    SILVER_METADATA_QUARANTINE,
    SILVER_QUARANTINE,
    SILVER_REVIEWS,
    SILVER_REVIEWS_QUARANTINE,
)
from paisa_assets_tests.conftest import Workspace, local_settings_env, make_workspace

REPO = Path(__file__).resolve().parents[2]
BATCH_TABLES = [
    BRONZE_REVIEWS,
    BRONZE_METADATA,
    BRONZE_REVIEWS_QUARANTINE,
    BRONZE_METADATA_QUARANTINE,
    BRONZE_REVIEWS_FILES,
    BRONZE_METADATA_FILES,
    SILVER_REVIEWS,
    SILVER_METADATA,
    SILVER_REVIEWS_QUARANTINE,
    SILVER_METADATA_QUARANTINE,
    GOLD_REVIEWS_ENRICHED,
    GOLD_KPIS,
]


def lake_env(root: Path, **extra: str) -> dict[str, str]:
    """Environment of a process working on the workspace `make_workspace(root)` describes, with
    its own persistent Dagster instance (SQLite under root/dagster_home); no PAISA_*, MLFLOW_*
    or AZURE_* variable of the calling environment leaks in."""
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PAISA_", "MLFLOW_", "AZURE_"))
    }
    return env | {"DAGSTER_HOME": str(home)} | local_settings_env(root) | extra


def start_driver(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`driver.py` in a new process (see its docstring), output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "paisa_assets_tests.reliability.driver", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def instance_at(root: Path) -> Iterator[DagsterInstance]:
    """The persistent instance `lake_env(root)` gives a driver, opened in this process."""
    with DagsterInstance.from_config(str(root / "dagster_home")) as instance:
        yield instance


@dataclass(frozen=True)
class Expected:
    """Exact row counts of a fully ingested generated lake (from the generator's report)."""

    bronze_reviews: int
    bronze_metadata: int
    bronze_quarantine: int
    silver_reviews: int
    silver_metadata: int
    silver_quarantine: int
    files: int

    @classmethod
    def of(cls, report: GenerationReport) -> Expected:
        return cls(
            bronze_reviews=report.reviews.parsed_rows,
            bronze_metadata=report.metadata.parsed_rows,
            bronze_quarantine=report.reviews.malformed_lines + report.metadata.malformed_lines,
            silver_reviews=report.reviews.unique_keys,
            silver_metadata=report.metadata.unique_keys,
            silver_quarantine=(
                report.reviews.contract_violations + report.metadata.contract_violations
            ),
            files=report.reviews.files + report.metadata.files,
        )


def assert_exact(lake: Lakehouse, expected: Expected, stream_reviews: int = 0) -> None:
    """Every batch table holds exactly what the landing zone says: nothing lost, nothing
    doubled (keys unique, one manifest row per file, one bronze row per parsed line)."""
    counts = {
        "bronze_reviews": lake.count(BRONZE_REVIEWS),
        "bronze_metadata": lake.count(BRONZE_METADATA),
        "bronze_quarantine": count_view(
            lake, BRONZE_QUARANTINE, pl.col("dataset") != "eh_streaming"
        ),
        "silver_reviews": lake.count(SILVER_REVIEWS),
        "silver_metadata": lake.count(SILVER_METADATA),
        "silver_quarantine": count_view(lake, SILVER_QUARANTINE),
        "files": count_view(lake, BRONZE_INGESTED_FILES),
    }
    assert counts == vars(expected)
    bronze = lake.read(BRONZE_REVIEWS, columns=["_source_file", "_line"])
    assert bronze.n_unique() == bronze.height  # no line ingested twice
    manifest = read_view(lake, BRONZE_INGESTED_FILES, columns=["_source_file"])
    assert manifest["_source_file"].n_unique() == manifest.height
    assert lake.read(SILVER_REVIEWS)["review_id"].n_unique() == expected.silver_reviews
    gold = lake.read(GOLD_REVIEWS_ENRICHED, columns=["review_id"])
    assert gold.height == gold["review_id"].n_unique() == expected.silver_reviews + stream_reviews
    assert lake.read(GOLD_KPIS)["reviews"].to_list() == [expected.silver_reviews + stream_reviews]


def assert_delta_consistent(lake: Lakehouse, tables: list[str]) -> dict[str, int]:
    """Every version of every table loads and counts (no half commit is visible), versions are
    contiguous from 0, and each snapshot references only files that exist. Returns, per table,
    the data files on disk that no version references (what an uncommitted write leaves)."""
    orphans: dict[str, int] = {}
    for table in tables:
        latest = lake.delta_table(table)
        if latest is None:
            continue
        log = Path(lake.uri(table)) / "_delta_log"
        commits = sorted(int(p.stem) for p in log.glob("*.json") if p.stem.isdigit())
        assert commits == list(range(latest.version() + 1)), (table, commits)
        referenced: set[str] = set()
        for version in commits:
            snapshot = DeltaTable(lake.uri(table), version=version)
            files = snapshot.file_uris()
            assert all(Path(f).exists() for f in files), (table, version)
            snapshot.to_pyarrow_dataset().count_rows()
            referenced |= {str(Path(f).resolve()) for f in files}
        on_disk = {
            str(p.resolve())
            for p in Path(lake.uri(table)).rglob("*.parquet")
            if "_delta_log" not in p.parts
        }
        orphans[table] = len(on_disk - referenced)
    return orphans


def workspace_at(root: Path) -> Workspace:
    """The same lake, landing zone and event log a driver with `lake_env(root)` uses."""
    return make_workspace(root)
