"""The real Dagster daemon: the landing-zone sensor ingests new folders and files on its own,
and the automation sensor rebuilds gold afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from paisa_assets.generator.stream import generated_payloads
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.tables import BRONZE_REVIEWS, GOLD_KPIS, SILVER_REVIEWS, SILVER_REVIEWS_STREAMING
from paisa_assets_tests.conftest import Workspace, make_workspace, product, review
from paisa_assets_tests.test_dagster_cli import BIN, REPO, dagster_env

pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def daemon_workspace(tmp_path: Path) -> Iterator[Workspace]:
    workspace = make_workspace(tmp_path)
    env = dagster_env(tmp_path) | {
        "PAISA_LANDING_SENSOR_INTERVAL_SECONDS": "3",
        "PAISA_EVENTHUB_SENSOR_INTERVAL_SECONDS": "3",
    }
    log = (tmp_path / "daemon.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield workspace
    finally:
        # The daemon's children ignore SIGTERM at times: end the whole process group.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()


def test_sensor_and_automation_ingest_and_rebuild_gold(daemon_workspace: Workspace) -> None:
    workspace = daemon_workspace
    lake = workspace.lakehouse
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz", [review(n) for n in range(6)]
    )
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-00000.json.gz", [product(n) for n in range(7)]
    )

    def gold_reviews() -> int:
        return int(lake.read(GOLD_KPIS)["reviews"][0]) if lake.exists(GOLD_KPIS) else -1

    wait_for(lambda: gold_reviews() == 6, 240, "gold to show the first 6 reviews")

    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00001.json.gz", [review(n) for n in range(50, 54)]
    )
    workspace.write_landing_file(
        "amazon_reviews/partition_7/part-00000.json.gz", [review(n) for n in range(80, 82)]
    )
    wait_for(lambda: gold_reviews() == 12, 240, "gold to show 12 reviews")
    assert lake.count(BRONZE_REVIEWS) == 12
    assert lake.count(SILVER_REVIEWS) == 12

    # Stream events: the Event Hubs sensor requests a streaming run, the gold sensor follows.
    events = LocalEventLog(root=str(workspace.root / "events"))
    events.publish(generated_payloads(20, seed=31))
    wait_for(lambda: gold_reviews() == 32, 240, "gold to show 20 stream reviews")
    assert lake.count(SILVER_REVIEWS_STREAMING) == 20
