"""The real Dagster daemon: the landing-zone sensor ingests new folders and files on its own,
and the automation sensor rebuilds gold afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paisa_assets.generator.stream import generated_payloads
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.tables import BRONZE_REVIEWS, GOLD_KPIS, SILVER_REVIEWS, SILVER_REVIEWS_STREAMING
from paisa_assets_tests.conftest import Workspace, make_workspace, product, review
from paisa_assets_tests.support.daemon import running_daemon, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def daemon_workspace(tmp_path: Path) -> Iterator[Workspace]:
    workspace = make_workspace(tmp_path)
    with running_daemon(
        tmp_path,
        PAISA_LANDING_SENSOR_INTERVAL_SECONDS="3",
        PAISA_EVENTHUB_SENSOR_INTERVAL_SECONDS="3",
    ):
        yield workspace


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
