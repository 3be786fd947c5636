"""Streaming through the unmodified azure-eventhub client and the local Event Hubs endpoint:
publish -> sensor tick -> run -> exact rows, the same guarantees as with the local log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, SkipReason

from paisa_assets.generator.stream import generated_payloads
from paisa_assets.resources.azure_event_hubs import AzureEventHubs
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_REVIEWS_STREAMING,
    GOLD_KPIS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets_tests.support.stream import SHARED_EVENTS, Stream, ranges_of
from paisa_eventhub_emulator.api import EventHubEmulator

pytestmark = pytest.mark.slow  # service-bound: a real AMQP endpoint and client round trips


@pytest.fixture
def emulator() -> Iterator[EventHubEmulator]:
    with EventHubEmulator(port=0, partitions=4, hubs=("reviews",)) as running:
        yield running


def hub_stream(tmp_path: Path, emulator: EventHubEmulator, hub: str) -> Iterator[Stream]:
    source = AzureEventHubs(connection_string=emulator.connection_string, eventhub_name=hub)
    with DagsterInstance.ephemeral() as instance:
        yield Stream(tmp_path, instance, source)


@pytest.fixture
def stream(tmp_path: Path, emulator: EventHubEmulator) -> Iterator[Stream]:
    yield from hub_stream(tmp_path, emulator, "reviews")


def test_publish_tick_run_through_the_real_client(stream: Stream) -> None:
    assert isinstance(stream.tick(), SkipReason)
    stream.log.publish(generated_payloads(40, seed=21))
    first = stream.tick()
    assert ranges_of(first) == [("0", 0, 9), ("1", 0, 9), ("2", 0, 9), ("3", 0, 9)]
    stream.run(first)
    assert stream.lake.count(BRONZE_EH_STREAMING) == 40
    assert stream.lake.count(BRONZE_REVIEWS_STREAMING) == 40
    assert stream.lake.count(SILVER_REVIEWS_STREAMING) == 40
    offsets = stream.lake.read(BRONZE_EH_STREAMING).group_by("offset").len()
    assert offsets["len"].max() == 4  # offsets repeat across partitions, keys do not
    stream.gold()
    assert stream.lake.read(GOLD_KPIS).select("reviews", "stream_reviews").row(0) == (40, 40)


def test_reset_cursor_and_retried_run_through_the_real_client(stream: Stream) -> None:
    stream.log.publish(generated_payloads(8, seed=22))
    config = stream.run(stream.tick())
    before = stream.versions()
    stream.rerun(config)
    assert stream.versions() == before
    assert isinstance(stream.tick(cursor="{}"), SkipReason)
    stream.log.publish(generated_payloads(4, seed=23))
    assert ranges_of(stream.tick(cursor="{}")) == [
        ("0", 2, 2),
        ("1", 2, 2),
        ("2", 2, 2),
        ("3", 2, 2),
    ]


@pytest.mark.skipif(not SHARED_EVENTS.exists(), reason=f"{SHARED_EVENTS} is absent")
def test_replaying_the_4140_real_events_through_event_hubs(
    tmp_path: Path, emulator: EventHubEmulator
) -> None:
    lines = [line for line in SHARED_EVENTS.read_bytes().splitlines() if line.strip()]
    expected = len({(r["reviewerID"], r["asin"]) for r in map(json.loads, lines)})
    for stream in hub_stream(tmp_path, emulator, "reviews"):
        stream.log.publish(lines)
        stream.run(stream.tick())
        assert stream.lake.count(BRONZE_EH_STREAMING) == 4_140
        assert stream.lake.count(SILVER_REVIEWS_STREAMING) == expected


def test_an_unreachable_event_hub_is_a_clear_error_without_the_secret() -> None:
    secret = "S3cr3tK3yValue="
    source = AzureEventHubs(
        connection_string=(
            "Endpoint=sb://127.0.0.1:9;SharedAccessKeyName=RootManageSharedAccessKey;"
            f"SharedAccessKey={secret};UseDevelopmentEmulator=true"
        ),
        eventhub_name="reviews",
    )
    with pytest.raises(ConnectionError) as failure:
        source.last_sequence_numbers()
    message = str(failure.value)
    assert message.startswith("cannot read event hub reviews at 127.0.0.1:9")
    assert "PAISA_EVENTHUB_CONNECTION_STRING" in message
    assert secret not in message and secret not in repr(failure.value)


def test_publishing_many_batches_reuses_one_producer(
    stream: Stream, emulator: EventHubEmulator
) -> None:
    payloads = generated_payloads(300, seed=24)
    with stream.log.publishing() as send:
        assert send(payloads[:100]) == 100
        after_first = emulator.connections_accepted  # the client's management + partition links
        for start in (100, 200):
            assert send(payloads[start : start + 100]) == 100
        assert emulator.connections_accepted == after_first  # no new connection per batch
    assert emulator.event_count("reviews") == 300
    assert [emulator.event_count("reviews", p) for p in "0123"] == [75, 75, 75, 75]
