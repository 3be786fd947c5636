"""SIGKILL in the middle of a Delta write, in the middle of a MERGE and between two writes that
belong together; then a re-run. The tables must be exactly what the landing zone and the event
log hold: nothing lost, nothing doubled, no half commit visible in any Delta version.

Each scenario is a real materialization (`driver.py`: every ingestion run, the streaming run and
gold, on a persistent instance) in a process that kills itself at a named crash point
(`paisa_assets/faults.py`). The scenarios crash in parallel, each on its own copy of one
generated landing zone; each test then inspects its wreck and recovers it in this process.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import orjson
import polars as pl
import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context
from deltalake import write_deltalake

from paisa_assets.bronze_ingest import bronze_schema
from paisa_assets.generator import GenerationReport, generate_landing_zone
from paisa_assets.generator.stream import generated_payloads
from paisa_assets.lake_views import count_view
from paisa_assets.resources.lakehouse import TABLE_CONFIGURATION
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.runner import sync_partitions
from paisa_assets.sensors import eventhub_sensor
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_INGESTED_FILES,
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_STREAMING,
    GOLD_KPIS,
    SILVER_METADATA,
    SILVER_QUARANTINE,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets.transforms.schemas import BRONZE_REVIEWS_COLUMNS
from paisa_assets_tests.conftest import Workspace, materialize_all
from paisa_assets_tests.reliability.support import (
    BATCH_TABLES,
    Expected,
    assert_delta_consistent,
    assert_exact,
    instance_at,
    lake_env,
    start_driver,
    workspace_at,
)

# One pytest-xdist worker runs this module: its tests share a module-scoped fixture.
pytestmark = [
    pytest.mark.reliability,
    pytest.mark.slow,
    pytest.mark.xdist_group("reliability.test_crashes"),
]

STREAM_EVENTS = 40  # 10 per event-log partition
STREAM_TABLES = [BRONZE_EH_STREAMING, BRONZE_REVIEWS_STREAMING, SILVER_REVIEWS_STREAMING]
# One review sent 150,001 times (more than a 131,072-row Parquet row group), then 5 reviews.
BIG_FOLDER_ROWS = (150_001, 5)
SCENARIOS = {
    # delta-rs has written data files of the 150,001-line file (#big: the first file after the
    # generated ones, whose count the fixture fills in); nothing committed.
    "bronze.during_write:bronze.amazon_reviews#big": "ingest",
    # bronze rows and quarantine committed, the manifest not.
    "bronze.before_manifest:bronze.amazon_reviews": "ingest",
    # inside the silver MERGE, after delta-rs read its whole source.
    "lakehouse.merge:silver.amazon_reviews": "ingest",
    # silver MERGE committed, silver quarantine not.
    "silver.after_merge:silver.amazon_reviews": "ingest",
    # the first event-log partition's range committed, the other three not.
    "streaming.after_range": "stream",
}
POINTS = list(SCENARIOS)


@dataclass
class Wreck:
    """A lake left behind by a killed process, and what it should hold once recovered."""

    root: Path
    point: str
    returncode: int
    stderr: str
    expected: Expected | None  # None: no batch data, only the stream

    @property
    def workspace(self) -> Workspace:
        return workspace_at(self.root)


def big_folder(root: Path) -> int:
    """A landing folder whose first file is large and whose bronze table is created (as
    `Lakehouse.ensure` would) with a tiny target file size: once a 131,072-row group is full,
    delta-rs writes data files while it still streams, so a kill before the second file leaves
    written, uncommitted data files behind, as any large production batch would. The large file
    repeats one review, so silver and gold stay small. Returns the distinct reviews added."""
    folder = root / "landing" / "amazon_reviews" / "partition_9"
    folder.mkdir()
    for n, rows in enumerate(BIG_FOLDER_ROWS):
        lines = (
            orjson.dumps({"asin": f"X{n}", "reviewerID": f"R{i if n else 0}", "overall": 4})
            for i in range(rows)
        )
        (folder / f"part-{n}.json.gz").write_bytes(gzip.compress(b"\n".join(lines), 1, mtime=0))
    write_deltalake(
        str(root / "lake" / "bronze" / "amazon_reviews"),
        bronze_schema(BRONZE_REVIEWS_COLUMNS).empty_table(),
        mode="ignore",
        partition_by=["_partition"],
        configuration={"delta.targetFileSize": "1024", **TABLE_CONFIGURATION},
    )
    return 1 + BIG_FOLDER_ROWS[1]


@pytest.fixture(scope="module")
def wrecks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Wreck]:
    """Every scenario's process started at once, each on its own lake; all of them killed."""
    source = tmp_path_factory.mktemp("generated")
    report: GenerationReport = generate_landing_zone(
        source / "landing",
        reviews=1_200,
        review_partitions=3,
        metadata_partitions=2,
        seed=5,
        progress=False,
        workers=1,
    )
    drivers = {}
    for n, (point, command) in enumerate(SCENARIOS.items()):
        root = tmp_path_factory.mktemp(f"crash{n}")
        expected: Expected | None = None
        if command == "stream":
            LocalEventLog(root=str(root / "events")).publish(
                generated_payloads(STREAM_EVENTS, seed=31)
            )
        else:
            shutil.copytree(source / "landing", root / "landing")
            expected = Expected.of(report)
        if point.startswith("bronze.during_write"):
            distinct = big_folder(root)
            assert expected is not None
            expected = replace(
                expected,
                bronze_reviews=expected.bronze_reviews + sum(BIG_FOLDER_ROWS),
                silver_reviews=expected.silver_reviews + distinct,
                files=expected.files + len(BIG_FOLDER_ROWS),
            )
        # The big folder's first file comes after every generated review file.
        armed = point.replace("#big", f"#{report.reviews.files + 1}")
        env = lake_env(root, PAISA_CRASH_AT=armed)
        with instance_at(root) as instance:
            sync_partitions(instance, workspace_at(root).landing)
        process = start_driver(env, command)
        drivers[point] = (root, expected, process)
    wrecks = {}
    for point, (root, expected, process) in drivers.items():
        _, stderr = process.communicate(timeout=300)
        wrecks[point] = Wreck(root, point, process.returncode, stderr, expected)
    return wrecks


@pytest.fixture
def wreck(request: pytest.FixtureRequest, wrecks: dict[str, Wreck]) -> Iterator[Wreck]:
    found = wrecks[request.param]
    assert found.returncode == -9, found.stderr[-3000:]  # killed by SIGKILL, not failed
    assert f"paisa fault injection: SIGKILL at {found.point.split('#')[0]}" in found.stderr
    yield found


def recover(wreck: Wreck) -> Workspace:
    """Re-run everything (what the sensors would request) and check the result is exact."""
    workspace = wreck.workspace
    with instance_at(wreck.root) as instance:
        materialize_all(instance, workspace)
    lake = workspace.lakehouse
    if wreck.expected is not None:
        assert_exact(lake, wreck.expected)
        assert_delta_consistent(lake, BATCH_TABLES)
    else:
        for table in STREAM_TABLES:
            assert lake.count(table) == STREAM_EVENTS
        assert lake.read(SILVER_REVIEWS_STREAMING)["review_id"].n_unique() == STREAM_EVENTS
        assert lake.read(GOLD_KPIS).select("reviews", "stream_reviews").row(0) == (40, 40)
        assert_delta_consistent(lake, STREAM_TABLES)
    return workspace


def review_files_in_manifest(workspace: Workspace) -> int:
    return count_view(
        workspace.lakehouse, BRONZE_INGESTED_FILES, pl.col("dataset") == "amazon_reviews"
    )


@pytest.mark.parametrize("wreck", [POINTS[0]], indirect=True)
def test_kill_while_delta_rs_writes_bronze_data_files(wreck: Wreck) -> None:
    lake = wreck.workspace.lakehouse
    orphans = assert_delta_consistent(lake, [BRONZE_REVIEWS])
    assert orphans[BRONZE_REVIEWS] > 0  # data files written, never committed...
    assert lake.version(BRONZE_REVIEWS) == 0 and lake.count(BRONZE_REVIEWS) == 0  # ...nor read
    assert review_files_in_manifest(wreck.workspace) == 0
    assert lake.count(SILVER_METADATA) == wreck.expected.silver_metadata  # the earlier run stands
    recover(wreck)


@pytest.mark.parametrize("wreck", [POINTS[1]], indirect=True)
def test_kill_between_bronze_data_and_manifest(wreck: Wreck) -> None:
    lake = wreck.workspace.lakehouse
    assert lake.count(BRONZE_REVIEWS) == wreck.expected.bronze_reviews
    assert review_files_in_manifest(wreck.workspace) == 0  # so the files are ingested again...
    workspace = recover(wreck)  # ...replacing their own rows, not adding to them
    assert workspace.lakehouse.read(BRONZE_REVIEWS)["_ingested_at"].n_unique() == 1


@pytest.mark.parametrize("wreck", [POINTS[2]], indirect=True)
def test_kill_inside_the_silver_merge(wreck: Wreck) -> None:
    lake = wreck.workspace.lakehouse
    assert lake.count(BRONZE_REVIEWS) == wreck.expected.bronze_reviews
    assert review_files_in_manifest(wreck.workspace) > 0
    # The MERGE had read its whole source when the process died: silver is as `ensure` left it.
    assert lake.version(SILVER_REVIEWS) == 0 and lake.count(SILVER_REVIEWS) == 0
    recover(wreck)


@pytest.mark.parametrize("wreck", [POINTS[3]], indirect=True)
def test_kill_between_the_silver_merge_and_its_quarantine(wreck: Wreck) -> None:
    lake = wreck.workspace.lakehouse
    assert lake.count(SILVER_REVIEWS) == wreck.expected.silver_reviews
    assert count_view(lake, SILVER_QUARANTINE, pl.col("dataset") == "amazon_reviews") == 0
    version = lake.version(SILVER_REVIEWS)
    workspace = recover(wreck)
    assert workspace.lakehouse.version(SILVER_REVIEWS) == version  # the re-run MERGE was a no-op
    assert (
        count_view(workspace.lakehouse, SILVER_QUARANTINE, pl.col("dataset") == "amazon_reviews")
        > 0
    )
    # (recover() compared the whole silver quarantine with the generator's contract violations)


@pytest.mark.parametrize("wreck", [POINTS[4]], indirect=True)
def test_kill_between_two_event_ranges(wreck: Wreck) -> None:
    workspace = wreck.workspace
    lake = workspace.lakehouse
    held = lake.read(BRONZE_EH_STREAMING).group_by("partition_id").len().rows()
    assert held == [("0", STREAM_EVENTS // 4)]
    assert not lake.exists(BRONZE_REVIEWS_STREAMING)  # the next step never ran
    with DagsterInstance.ephemeral() as instance:
        tick = eventhub_sensor(
            build_sensor_context(
                instance=instance,
                resources={
                    "event_source": LocalEventLog(root=str(wreck.root / "events")),
                    "lakehouse": lake,
                },
            )
        )
    assert isinstance(tick, SensorResult)
    (request,) = tick.run_requests
    ranges = request.run_config["ops"]["bronze__eh_streaming"]["config"]["ranges"]
    assert [(r["partition_id"], r["first"], r["last"]) for r in ranges] == [
        (pid, 0, STREAM_EVENTS // 4 - 1) for pid in ("1", "2", "3")
    ]
    recover(wreck)
