"""The real Dagster daemon: sensors batch landing folders into few runs, retry folders whose run
failed, and rebuild gold one run at a time; stream events reach gold on their own."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterRunStatus

from paisa_assets.generator.stream import generated_payloads
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.tables import (
    BRONZE_REVIEWS,
    GOLD_KPIS,
    SILVER_METADATA,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets_tests.conftest import Workspace, make_workspace, product, review
from paisa_assets_tests.support.daemon import Daemon, running_daemon, wait_for

pytestmark = pytest.mark.slow

FAST_SENSORS = {
    "PAISA_LANDING_SENSOR_INTERVAL_SECONDS": "2",
    "PAISA_EVENTHUB_SENSOR_INTERVAL_SECONDS": "2",
    "PAISA_GOLD_SENSOR_INTERVAL_SECONDS": "2",
}


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Workspace, Daemon]]:
    workspace = make_workspace(tmp_path)
    with running_daemon(tmp_path, **FAST_SENSORS) as running:
        yield workspace, running


def gold_reviews(workspace: Workspace) -> int:
    lake = workspace.lakehouse
    return int(lake.read(GOLD_KPIS)["reviews"][0]) if lake.exists(GOLD_KPIS) else -1


def overlapping(records) -> list[tuple[str, str]]:
    """Pairs of runs whose [start, end] intervals overlap."""
    spans = sorted((r.start_time, r.end_time or time.time(), r.dagster_run.run_id) for r in records)
    return [
        (a[2], b[2])
        for i, a in enumerate(spans)
        for b in spans[i + 1 :]
        if a[0] is not None and b[0] is not None and b[0] < a[1]
    ]


def test_a_burst_of_folders_is_few_runs_and_stream_bursts_make_one_gold_run_at_a_time(
    daemon: tuple[Workspace, Daemon],
) -> None:
    workspace, running = daemon
    lake = workspace.lakehouse
    for folder in range(12):
        workspace.write_landing_file(
            f"amazon_reviews/partition_{folder}/part-00000.json.gz",
            [review(folder * 100 + n) for n in range(3)],
        )
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-00000.json.gz", [product(n) for n in range(7)]
    )
    wait_for(lambda: gold_reviews(workspace) == 36, 240, "gold to show the 36 reviews")
    assert lake.count(BRONZE_REVIEWS) == lake.count(SILVER_REVIEWS) == 36
    assert lake.count(SILVER_METADATA) == 7
    ingest = running.runs("reviews_ingest_job")
    assert 1 <= len(ingest) <= 3, [r.dagster_run.tags for r in ingest]
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in ingest)

    # Bursts of stream events while gold is being rebuilt: never two gold runs at once, none
    # fails, and gold ends with every event.
    events = LocalEventLog(root=str(workspace.root / "events"))
    for burst in range(5):
        events.publish(generated_payloads(10, seed=40 + burst))
        time.sleep(3)
    wait_for(lambda: gold_reviews(workspace) == 36 + 50, 240, "gold to show the 50 stream reviews")
    assert lake.count(SILVER_REVIEWS_STREAMING) == 50
    finished = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]

    def gold_settled() -> bool:
        runs = running.runs("gold_job")
        return all(r.dagster_run.status in finished for r in runs)

    wait_for(gold_settled, 120, "the last gold run to finish")
    gold_runs = running.runs("gold_job")
    assert gold_runs and all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in gold_runs), [
        (r.dagster_run.run_id, r.dagster_run.status) for r in gold_runs
    ]
    assert overlapping(gold_runs) == []
    stream_runs = running.runs("streaming_job")
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in stream_runs)


def test_a_folder_whose_run_failed_is_requested_again_until_it_lands(
    daemon: tuple[Workspace, Daemon],
) -> None:
    workspace, running = daemon
    lake = workspace.lakehouse
    # silver.amazon_reviews cannot be created while a file stands where its folder goes: the
    # ingestion run fails (bronze lands, silver does not), as on a storage outage.
    blocker = Path(lake.uri(SILVER_REVIEWS))
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a Delta table")
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz", [review(n) for n in range(4)]
    )

    def failed_runs() -> int:
        return len(running.runs("reviews_ingest_job", [DagsterRunStatus.FAILURE]))

    wait_for(lambda: failed_runs() >= 1, 180, "the first ingestion run to fail")
    # The outage ends; the sensor requests the folder again (its run key never blocks it).
    blocker.unlink()
    shutil.rmtree(blocker, ignore_errors=True)

    def silver_rows() -> int:
        return lake.count(SILVER_REVIEWS) if lake.exists(SILVER_REVIEWS) else 0

    wait_for(lambda: silver_rows() == 4, 240, "the folder to land after the outage")
    assert lake.count(BRONZE_REVIEWS) == 4

    def succeeded() -> int:
        return len(running.runs("reviews_ingest_job", [DagsterRunStatus.SUCCESS]))

    wait_for(lambda: succeeded() == 1, 120, "the retried run to succeed")
    assert failed_runs() >= 1
