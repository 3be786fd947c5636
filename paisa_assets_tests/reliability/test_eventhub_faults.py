"""Event Hubs faults through the unmodified azure-eventhub client and the local AMQP endpoint
(`EventHubEmulator`, whose fault hooks cut the connection mid-receive or deliver every event
twice). Each ends with exact rows: every event once in bronze, every review once in silver.

The sensor's side (a reset cursor, a lost cursor update, a retried run, a failed range asked
again, a torn write in the local log) is tested in test_streaming.py, whose tests of it carry the
`reliability` mark too; the reset cursor through this client in test_streaming_eventhubs.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, SkipReason

from paisa_assets.generator.stream import generated_payloads
from paisa_assets.resources.azure_event_hubs import AzureEventHubs
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_REVIEWS_STREAMING,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets_tests.support.stream import Stream
from paisa_eventhub_emulator.api import EventHubEmulator

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

PARTITIONS = 2  # every partition costs a client connection per run: two show the same


@pytest.fixture
def emulator() -> Iterator[EventHubEmulator]:
    with EventHubEmulator(port=0, partitions=PARTITIONS, hubs=("reviews",)) as running:
        yield running


@pytest.fixture
def stream(tmp_path: Path, emulator: EventHubEmulator) -> Iterator[Stream]:
    source = AzureEventHubs(connection_string=emulator.connection_string, eventhub_name="reviews")
    with DagsterInstance.ephemeral() as instance:
        yield Stream(tmp_path, instance, source)


def drain(stream: Stream, most: int = 3) -> int:
    """Tick and run, as the daemon would, until the sensor has nothing left; returns the runs."""
    for runs in range(most + 1):
        result = stream.tick()
        if isinstance(result, SkipReason):
            return runs
        stream.run(result)
    raise AssertionError(f"still requesting runs after {most}")


def assert_exactly_once(stream: Stream, events: int) -> None:
    lake = stream.lake
    bronze = lake.read(BRONZE_EH_STREAMING, columns=["partition_id", "sequence_number"])
    assert bronze.height == events
    assert bronze.n_unique() == events
    assert sorted(bronze.group_by("partition_id").len().rows()) == [
        (str(pid), events // PARTITIONS) for pid in range(PARTITIONS)
    ]
    assert lake.count(BRONZE_REVIEWS_STREAMING) == events
    silver = lake.read(SILVER_REVIEWS_STREAMING, columns=["review_id"])
    assert silver.height == silver["review_id"].n_unique() == events


def test_a_connection_dropped_mid_receive_recovers_with_exact_rows(
    stream: Stream, emulator: EventHubEmulator
) -> None:
    stream.log.publish(generated_payloads(100, seed=51))
    # Partition 0's 50 events, then 20 of partition 1's, then the TCP connection is gone.
    emulator.drop_connection_after(70)
    runs = drain(stream)
    assert emulator.dropped_mid_receive == 1
    assert 1 <= runs <= 2  # the client reconnects within the run, or the next run takes the rest
    assert_exactly_once(stream, 100)


def test_every_event_delivered_twice_is_ingested_once(
    stream: Stream, emulator: EventHubEmulator
) -> None:
    stream.log.publish(generated_payloads(40, seed=52))
    emulator.deliver_twice()
    assert drain(stream) == 1
    assert_exactly_once(stream, 40)
    event = stream.instance.get_latest_materialization_event(AssetKey(["bronze", "eh_streaming"]))
    assert event is not None
    metadata = event.asset_materialization.metadata
    received, written = metadata["rows_in"].value, metadata["rows_written"].value
    assert (received, written, metadata["rows_duplicates"].value) == (80, 40, 40)
