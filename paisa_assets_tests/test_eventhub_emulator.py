"""The Event Hubs emulator, driven through the unmodified `azure-eventhub` client.

Every test runs its own emulator on a free loopback port. Receiving runs the client's blocking
`receive_batch` / `receive` in a thread, which is closed as soon as the expected events arrived,
so the tests are bounded by short waits rather than by the client's own timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient
from azure.eventhub._pyamqp.constants import SASL_HEADER_FRAME, Role
from azure.eventhub._pyamqp.endpoints import Source, Target
from azure.eventhub._pyamqp.performatives import (
    AttachFrame,
    BeginFrame,
    EndFrame,
    OpenFrame,
    SASLInit,
)
from azure.eventhub.exceptions import EventHubError

from paisa_eventhub_emulator import EventHubEmulator, codec
from paisa_eventhub_emulator.addresses import Kind, parse_address
from paisa_eventhub_emulator.positions import StartPosition
from paisa_eventhub_emulator.storage import Retention

pytestmark = pytest.mark.slow  # service-bound: real client round trips to a local AMQP server

HUB = "reviews"
WAIT = 8.0  # the longest any single wait in these tests may take


@pytest.fixture
def emulator() -> Iterator[EventHubEmulator]:
    with EventHubEmulator(port=0, partitions=4, hubs=(HUB, "audit")) as emu:
        yield emu


def producer_for(emu: EventHubEmulator, hub: str = HUB, **kwargs: Any) -> EventHubProducerClient:
    return EventHubProducerClient.from_connection_string(
        emu.connection_string, eventhub_name=hub, **kwargs
    )


def consumer_for(emu: EventHubEmulator, hub: str = HUB, **kwargs: Any) -> EventHubConsumerClient:
    return EventHubConsumerClient.from_connection_string(
        emu.connection_string, consumer_group="$Default", eventhub_name=hub, **kwargs
    )


def event(body: str, **properties: Any) -> EventData:
    data = EventData(body)
    if properties:
        data.properties = properties
    return data


def send(emu: EventHubEmulator, bodies: list[str], **batch_options: Any) -> None:
    with producer_for(emu) as producer:
        batch = producer.create_batch(**batch_options)
        for body in bodies:
            batch.add(event(body))
        producer.send_batch(batch)


def receive(
    emu: EventHubEmulator,
    count: int,
    *,
    partition_id: str = "0",
    settle: float = 0.3,
    on_ready: Callable[[], None] | None = None,
    **options: Any,
) -> list[EventData]:
    """Receive with `receive_batch` until `count` events arrived (then `settle` more seconds,
    to catch any extra), or with count 0 until the first empty batch. `on_ready` runs once the
    consumer is attached (after its first empty batch)."""
    consumer = consumer_for(emu)
    received: list[EventData] = []
    done, ready = threading.Event(), threading.Event()

    def on_batch(_context: Any, batch: list[EventData]) -> None:
        received.extend(batch)
        if not batch:
            ready.set()
        if len(received) >= count and (count or not batch):
            done.set()

    worker = threading.Thread(
        target=consumer.receive_batch,
        kwargs={
            "on_event_batch": on_batch,
            "partition_id": partition_id,
            "max_wait_time": 0.3,
            **options,
        },
        daemon=True,
    )
    worker.start()
    try:
        if on_ready is not None:
            assert ready.wait(WAIT), "the consumer never attached"
            on_ready()
        assert done.wait(WAIT), f"received {len(received)} of {count} events"
        time.sleep(settle)
    finally:
        consumer.close()
        worker.join(WAIT)
    return received


def bodies(events: list[EventData]) -> list[str]:
    return [e.body_as_str() for e in events]


# -- producing ------------------------------------------------------------------------------


def test_producer_sends_single_events_and_batches_to_partitions_and_keys(emulator):
    with producer_for(emulator) as producer:
        producer.send_event(event("one", kind="single"), partition_id="2")
        batch = producer.create_batch(partition_id="1")
        for body in ("a", "b", "c"):
            batch.add(event(body))
        producer.send_batch(batch)
        keyed = producer.create_batch(partition_key="user-42")
        keyed.add(event("k1"))
        keyed.add(event("k2"))
        producer.send_batch(keyed)
        producer.send_batch([event("k3")], partition_key="user-42")
        producer.send_batch([event("rr1"), event("rr2")])  # no partition: the broker chooses

    assert [(e.body, e.properties) for e in emulator.events(HUB, "2")][:1] == [
        (b"one", {"kind": b"single"})
    ]
    assert [e.body for e in emulator.events(HUB, "1")][:3] == [b"a", b"b", b"c"]
    keyed_events = [e for e in emulator.events(HUB) if e.partition_key == "user-42"]
    assert [e.body for e in keyed_events] == [b"k1", b"k2", b"k3"]
    assert len({e.partition_id for e in keyed_events}) == 1  # one key, one partition
    assert emulator.event_count(HUB) == 1 + 3 + 3 + 2
    assert emulator.event_count("audit") == 0


def test_management_reports_exact_hub_and_partition_properties(emulator):
    with producer_for(emulator) as producer:
        producer.send_batch([event("x"), event("yy"), event("zzz")], partition_id="3")
        stored = emulator.events(HUB, "3")
        hub = producer.get_eventhub_properties()
        ids = producer.get_partition_ids()
        full = producer.get_partition_properties("3")
        empty = producer.get_partition_properties("0")

    assert hub["eventhub_name"] == HUB
    assert hub["partition_ids"] == ids == ["0", "1", "2", "3"]
    assert isinstance(hub["created_at"], dt.datetime)
    assert full["eventhub_name"] == HUB and full["id"] == "3"
    assert full["beginning_sequence_number"] == 0
    assert full["last_enqueued_sequence_number"] == 2
    assert full["last_enqueued_offset"] == stored[-1].offset
    assert full["last_enqueued_time_utc"] == stored[-1].enqueued_time
    assert full["is_empty"] is False
    assert [int(e.offset) for e in stored] == sorted({int(e.offset) for e in stored})
    assert empty["is_empty"] is True and empty["last_enqueued_sequence_number"] == -1


def test_an_unknown_hub_is_reported_as_not_found(emulator):
    with producer_for(emulator, hub="nope", retry_total=0) as producer:
        with pytest.raises(EventHubError, match=r"'nope' could not be found \(known event hubs"):
            producer.create_batch()  # attaches a sender link to the hub
        with pytest.raises(EventHubError, match="could not be found"):
            producer.send_batch([event("lost")])
        with pytest.raises(EventHubError, match="could not be found"):
            producer.get_eventhub_properties()
    assert emulator.event_count(HUB) == 0


# -- consuming ------------------------------------------------------------------------------


def test_received_events_carry_body_properties_and_broker_annotations(emulator):
    with producer_for(emulator) as producer:
        batch = producer.create_batch(partition_key="k")
        batch.add(event("first", rating=5, source="web"))
        batch.add(event("second", rating=3.5, verified=True))
        producer.send_batch(batch)
    stored = emulator.events(HUB)
    partition_id = stored[0].partition_id

    received = receive(emulator, 2, partition_id=partition_id, starting_position="-1")

    assert bodies(received) == ["first", "second"]
    assert received[0].properties == {b"rating": 5, b"source": b"web"}
    assert received[1].properties == {b"rating": 3.5, b"verified": True}
    assert [e.sequence_number for e in received] == [0, 1]
    assert [e.offset for e in received] == [s.offset for s in stored]
    assert [e.enqueued_time for e in received] == [s.enqueued_time for s in stored]
    assert all(e.enqueued_time.tzinfo is not None for e in received)
    assert [e.partition_key for e in received] == [b"k", b"k"]
    assert isinstance(received[0].system_properties[b"x-opt-sequence-number"], int)


def test_starting_position_by_sequence_number_inclusive_and_exclusive(emulator):
    emulator.publish(HUB, [f"e{i}" for i in range(6)], partition_id="0")

    assert bodies(receive(emulator, 4, starting_position=1)) == ["e2", "e3", "e4", "e5"]
    inclusive = receive(emulator, 5, starting_position=1, starting_position_inclusive=True)
    assert bodies(inclusive) == ["e1", "e2", "e3", "e4", "e5"]


def test_starting_position_by_offset_and_by_enqueued_time(emulator):
    emulator.publish(HUB, ["a", "b", "c"], partition_id="0")
    time.sleep(0.02)  # a later millisecond for the next batch
    emulator.publish(HUB, ["d", "e"], partition_id="0")
    stored = emulator.events(HUB, "0")

    assert bodies(receive(emulator, 3, starting_position=stored[1].offset)) == ["c", "d", "e"]
    assert bodies(
        receive(emulator, 4, starting_position=stored[1].offset, starting_position_inclusive=True)
    ) == ["b", "c", "d", "e"]
    after_first_batch = stored[2].enqueued_time
    assert bodies(receive(emulator, 2, starting_position=after_first_batch)) == ["d", "e"]


def test_starting_position_earliest_and_latest(emulator):
    emulator.publish(HUB, ["old1", "old2"], partition_id="0")

    assert bodies(receive(emulator, 2, starting_position="-1")) == ["old1", "old2"]
    assert bodies(receive(emulator, 2, starting_position="@earliest")) == ["old1", "old2"]
    latest = receive(
        emulator,
        1,
        starting_position="@latest",
        on_ready=lambda: emulator.publish(HUB, ["new"], partition_id="0"),
    )
    assert bodies(latest) == ["new"]


def test_partitions_number_their_events_independently(emulator):
    emulator.publish(HUB, ["p0-a", "p0-b"], partition_id="0")
    emulator.publish(HUB, ["p1-a", "p1-b", "p1-c"], partition_id="1")

    zero = receive(emulator, 2, partition_id="0", starting_position="-1")
    one = receive(emulator, 3, partition_id="1", starting_position="-1")

    assert [(e.sequence_number, e.body_as_str()) for e in zero] == [(0, "p0-a"), (1, "p0-b")]
    assert [(e.sequence_number, e.body_as_str()) for e in one] == [
        (0, "p1-a"),
        (1, "p1-b"),
        (2, "p1-c"),
    ]


def test_a_receiving_consumer_gets_events_sent_while_it_waits(emulator):
    with producer_for(emulator) as producer:
        producer.send_batch([event("before")], partition_id="2")

        def produce_more() -> None:
            for i in range(3):
                producer.send_batch([event(f"during-{i}")], partition_id="2")

        received = receive(
            emulator, 4, partition_id="2", starting_position="-1", on_ready=produce_more
        )
    assert bodies(received) == ["before", "during-0", "during-1", "during-2"]
    assert [e.sequence_number for e in received] == [0, 1, 2, 3]


def test_runtime_metrics_track_the_last_enqueued_event(emulator):
    emulator.publish(HUB, ["a", "b", "c"], partition_id="0")
    consumer = consumer_for(emulator)
    seen: list[dict[str, Any] | None] = []
    done = threading.Event()

    def on_event(context: Any, _event: EventData | None) -> None:
        seen.append(context.last_enqueued_event_properties)
        if len(seen) == 3:
            done.set()

    worker = threading.Thread(
        target=consumer.receive,
        kwargs={
            "on_event": on_event,
            "partition_id": "0",
            "starting_position": "-1",
            "track_last_enqueued_event_properties": True,
        },
        daemon=True,
    )
    worker.start()
    try:
        assert done.wait(WAIT)
    finally:
        consumer.close()
        worker.join(WAIT)
    last = emulator.events(HUB, "0")[-1]
    assert seen[0] is not None
    assert seen[0]["sequence_number"] == 2
    assert seen[0]["offset"] == last.offset
    assert seen[0]["enqueued_time"] == last.enqueued_time


def test_consumer_survives_a_dropped_connection_without_loss_or_duplicates(emulator):
    consumer = consumer_for(emulator)
    received: list[EventData] = []

    def on_event(_context: Any, data: EventData | None) -> None:
        if data is not None:
            received.append(data)

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + WAIT
        while len(received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(received) >= count, f"received {len(received)} of {count}"

    worker = threading.Thread(
        target=consumer.receive,
        kwargs={"on_event": on_event, "partition_id": "0", "starting_position": "-1"},
        daemon=True,
    )
    worker.start()
    try:
        with producer_for(emulator) as producer:
            producer.send_batch([event(f"e{i}") for i in range(5)], partition_id="0")
            wait_for(5)
            assert emulator.drop_connections() >= 2  # the consumer's and the producer's
            producer.send_batch([event(f"e{i}") for i in range(5, 10)], partition_id="0")
        wait_for(10)
        time.sleep(0.3)
    finally:
        consumer.close()
        worker.join(WAIT)

    assert bodies(received) == [f"e{i}" for i in range(10)]
    assert [e.sequence_number for e in received] == list(range(10))
    assert emulator.event_count(HUB, "0") == 10


def test_async_client_sends_and_receives(emulator):
    from azure.eventhub.aio import EventHubConsumerClient as AsyncConsumer
    from azure.eventhub.aio import EventHubProducerClient as AsyncProducer

    async def scenario() -> list[EventData]:
        producer = AsyncProducer.from_connection_string(
            emulator.connection_string, eventhub_name=HUB
        )
        async with producer:
            batch = await producer.create_batch(partition_id="1")
            for body in ("x", "y", "z"):
                batch.add(event(body, n=body))
            await producer.send_batch(batch)
            assert (await producer.get_partition_properties("1"))[
                "last_enqueued_sequence_number"
            ] == 2
        consumer = AsyncConsumer.from_connection_string(
            emulator.connection_string, consumer_group="$Default", eventhub_name=HUB
        )
        received: list[EventData] = []
        done = asyncio.Event()

        async def on_batch(_context: Any, batch: list[EventData]) -> None:
            received.extend(batch)
            if len(received) >= 3:
                done.set()

        async with consumer:
            task = asyncio.create_task(
                consumer.receive_batch(
                    on_batch, partition_id="1", starting_position="-1", max_wait_time=0.3
                )
            )
            await asyncio.wait_for(done.wait(), WAIT)
            await consumer.close()
            task.cancel()  # the client's load-balancing sleep outlives close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, WAIT)
        return received

    received = asyncio.run(scenario())
    assert bodies(received) == ["x", "y", "z"]
    assert [e.properties[b"n"] for e in received] == [b"x", b"y", b"z"]


# -- persistence and the CLI ----------------------------------------------------------------


def test_events_persist_across_a_restart(tmp_path: Path):
    data_dir = tmp_path / "eventhubs"
    with EventHubEmulator(port=0, partitions=2, hubs=(HUB,), data_dir=data_dir) as first:
        send(first, ["kept-1", "kept-2"], partition_id="1")
        before = first.events(HUB, "1")
        created = first.store.hub(HUB).created_at_ms

    with EventHubEmulator(port=0, partitions=2, data_dir=data_dir, hubs=()) as second:
        assert second.hubs == [HUB]
        assert second.store.hub(HUB).created_at_ms == created
        send(second, ["after"], partition_id="1")
        after = second.events(HUB, "1")
        received = receive(second, 3, partition_id="1", starting_position="-1")

    assert [(e.sequence_number, e.offset, e.enqueued_time, e.body) for e in after[:2]] == [
        (e.sequence_number, e.offset, e.enqueued_time, e.body) for e in before
    ]
    assert after[2].sequence_number == 2 and int(after[2].offset) > int(before[-1].offset)
    assert bodies(received) == ["kept-1", "kept-2", "after"]


def test_a_torn_last_line_is_dropped_on_restart(tmp_path: Path):
    with EventHubEmulator(port=0, partitions=1, hubs=(HUB,), data_dir=tmp_path) as first:
        first.publish(HUB, [b"whole"])
    log = tmp_path / HUB / "partition-0.jsonl"
    log.write_text(log.read_text() + '{"sequence_number": 1, "off')
    with EventHubEmulator(port=0, partitions=1, hubs=(HUB,), data_dir=tmp_path) as second:
        assert [e.body for e in second.events(HUB)] == [b"whole"]
        second.publish(HUB, [b"next"])
        assert [e.sequence_number for e in second.events(HUB)] == [0, 1]


def test_cli_prints_the_connection_string_and_serves(tmp_path: Path):
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "paisa_eventhub_emulator", "--port", "0"),
            *("--hub", "cli-hub", "--partitions", "2", "--data-dir", str(tmp_path)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        connection_string = lines[1].split(": ", 1)[1].strip()
        assert "UseDevelopmentEmulator=true" in connection_string
        producer = EventHubProducerClient.from_connection_string(
            connection_string, eventhub_name="cli-hub"
        )
        with producer:
            assert producer.get_partition_ids() == ["0", "1"]
    finally:
        process.terminate()
        assert process.wait(WAIT) == 0


# -- protocol edges, with a raw AMQP peer ---------------------------------------------------


async def open_raw(port: int, idle_timeout_ms: int | None = None) -> tuple[Any, Any]:
    """SASL ANONYMOUS, AMQP header and Open, as a minimal client would."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(SASL_HEADER_FRAME)
    assert await reader.readexactly(8) == SASL_HEADER_FRAME
    mechanisms = await codec.read_frame(reader, 65536)
    assert b"ANONYMOUS" in mechanisms.fields[0] and b"MSSBCBS" in mechanisms.fields[0]
    init = SASLInit(mechanism=b"ANONYMOUS", initial_response=b"", hostname="127.0.0.1")
    writer.write(codec.encode_frame(0, init, codec.SASL_FRAME))
    outcome = await codec.read_frame(reader, 65536)
    assert outcome.code == 0x44 and outcome.fields[0] == 0
    writer.write(codec.HEADER_FRAME)
    assert await reader.readexactly(8) == codec.HEADER_FRAME
    open_frame = OpenFrame(
        container_id="raw",
        hostname="127.0.0.1",
        max_frame_size=65536,
        channel_max=8,
        idle_timeout=idle_timeout_ms,
        outgoing_locales=None,
        incoming_locales=None,
        offered_capabilities=None,
        desired_capabilities=None,
        properties=None,
    )
    writer.write(codec.encode_frame(0, open_frame))
    reply = await codec.read_frame(reader, 65536)
    assert reply.code == 0x10
    return reader, writer


async def next_non_empty(reader: Any) -> codec.Frame:
    while True:
        frame = await asyncio.wait_for(codec.read_frame(reader, 1 << 20), WAIT)
        if frame.code is not None:
            return frame


def test_heartbeats_and_idle_timeout():
    async def scenario(port: int) -> tuple[int, codec.Frame]:
        reader, writer = await open_raw(port, idle_timeout_ms=200)
        heartbeats = 0
        while True:  # silent client: the server sends heartbeats, then gives up on us
            frame = await asyncio.wait_for(codec.read_frame(reader, 1 << 20), WAIT)
            if frame.code is None:
                heartbeats += 1
            else:
                writer.close()
                return heartbeats, frame

    with EventHubEmulator(port=0, hubs=(HUB,), idle_timeout=0.6) as emu:
        heartbeats, close = asyncio.run(scenario(emu.port))
    assert heartbeats >= 2
    assert close.code == 0x18
    assert close.fields[0][0] == b"amqp:resource-limit-exceeded"


def test_a_malformed_frame_closes_only_that_connection(emulator):
    async def scenario() -> codec.Frame:
        reader, writer = await open_raw(emulator.port)
        writer.write(b"\x00\x00\x00\x10\x02\x00\x00\x00" + b"\xff" * 8)
        close = await next_non_empty(reader)
        writer.close()
        return close

    close = asyncio.run(scenario())
    assert close.code == 0x18 and close.fields[0][0] == b"amqp:decode-error"
    with producer_for(emulator) as producer:  # everyone else carries on
        assert producer.get_partition_ids() == ["0", "1", "2", "3"]


def test_attaching_to_a_missing_partition_is_refused_with_not_found(emulator):
    async def scenario() -> tuple[codec.Frame, list[codec.Frame]]:
        reader, writer = await open_raw(emulator.port)
        begin = BeginFrame(
            remote_channel=None,
            next_outgoing_id=0,
            incoming_window=100,
            outgoing_window=100,
            handle_max=10,
            offered_capabilities=None,
            desired_capabilities=None,
            properties=None,
        )
        writer.write(codec.encode_frame(1, begin))
        begun = await next_non_empty(reader)
        attach = AttachFrame(
            name="raw-receiver",
            handle=0,
            role=Role.Receiver,
            send_settle_mode=None,
            rcv_settle_mode=None,
            source=Source(address=f"{HUB}/ConsumerGroups/$Default/Partitions/9"),
            target=Target(address="raw"),
            unsettled=None,
            incomplete_unsettled=None,
            initial_delivery_count=None,
            max_message_size=None,
            offered_capabilities=None,
            desired_capabilities=None,
            properties=None,
        )
        writer.write(codec.encode_frame(1, attach))
        answers = [await next_non_empty(reader) for _ in range(2)]
        writer.close()
        return begun, answers

    begun, (attached, detached) = asyncio.run(scenario())
    assert begun.code == 0x11 and begun.fields[0] == 1  # answers our channel
    assert attached.code == 0x12 and attached.fields[5] is None  # no source: refused
    assert detached.code == 0x16
    assert detached.fields[1] is True
    condition, description = detached.fields[2][0], detached.fields[2][1]
    assert condition == b"amqp:not-found"
    assert description.startswith(b"Partition '9' of event hub 'reviews' does not exist")


def test_one_connection_carries_several_sessions(emulator):
    async def scenario() -> list[codec.Frame]:
        reader, writer = await open_raw(emulator.port)
        for channel in (3, 5):
            begin = BeginFrame(
                remote_channel=None,
                next_outgoing_id=0,
                incoming_window=10,
                outgoing_window=10,
                handle_max=4,
                offered_capabilities=None,
                desired_capabilities=None,
                properties=None,
            )
            writer.write(codec.encode_frame(channel, begin))
        answers = [await next_non_empty(reader) for _ in range(2)]
        writer.write(codec.encode_frame(3, EndFrame(error=None)))
        answers.append(await next_non_empty(reader))
        writer.close()
        return answers

    first, second, ended = asyncio.run(scenario())
    assert (first.code, first.fields[0]) == (0x11, 3)
    assert (second.code, second.fields[0]) == (0x11, 5)
    assert first.channel != second.channel
    assert ended.code == 0x17 and ended.channel == first.channel


def test_wrong_protocol_header_is_answered_and_closed(emulator):
    async def scenario() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", emulator.port)
        writer.write(b"HTTP/1.1")
        answer = await asyncio.wait_for(reader.read(100), WAIT)
        writer.close()
        return answer

    assert asyncio.run(scenario()) == codec.HEADER_FRAME


# -- pure parts -----------------------------------------------------------------------------


def test_addresses_and_selector_expressions():
    consumer = parse_address("amqps://h:1/reviews/ConsumerGroups/$Default/Partitions/3")
    assert consumer is not None and consumer.kind is Kind.CONSUMER
    assert (consumer.hub, consumer.consumer_group, consumer.partition_id) == (
        "reviews",
        "$Default",
        "3",
    )
    assert parse_address("$cbs").kind is Kind.CBS
    assert parse_address("amqps://h/reviews/partitions/0").partition_id == "0"
    assert parse_address("a/b/c/d") is None

    assert StartPosition.parse(b"amqp.annotation.x-opt-offset > '@latest'").field == "latest"
    assert StartPosition.parse("amqp.annotation.x-opt-offset > '-1'").field == "earliest"
    position = StartPosition.parse("amqp.annotation.x-opt-sequence-number >= '7'")
    assert (position.field, position.value, position.inclusive) == ("sequence_number", 7, True)
    with pytest.raises(ValueError):
        StartPosition.parse("amqp.annotation.x-opt-offset > 'abc'")
    with pytest.raises(ValueError):
        StartPosition.parse("sequence_number > 3")


def test_large_deliveries_are_split_into_frames_within_the_peer_limit():
    payload = bytes(range(256)) * 40
    frames = codec.encode_transfer(
        7, handle=1, delivery_id=9, delivery_tag=b"t", payload=payload, max_frame_size=1024
    )
    assert len(frames) > 1 and all(len(frame) <= 1024 for frame in frames)

    async def decode() -> list[codec.Frame]:
        reader = asyncio.StreamReader()
        reader.feed_data(b"".join(frames))
        reader.feed_eof()
        return [await codec.read_frame(reader, 1024) for _ in frames]

    decoded = asyncio.run(decode())
    assert b"".join(frame.payload for frame in decoded) == payload
    assert [frame.fields[5] for frame in decoded] == [True] * (len(frames) - 1) + [False]
    assert decoded[0].fields[1] == 9 and all(frame.channel == 7 for frame in decoded)


# -- retention, consumer groups, identity -----------------------------------------------------


def test_retention_by_count_moves_the_beginning_and_receivers_start_there():
    with EventHubEmulator(
        port=0, partitions=1, hubs=(HUB,), retention=Retention(max_events=3)
    ) as emu:
        send(emu, [f"e{n}" for n in range(5)], partition_id="0")
        with producer_for(emu) as producer:
            properties = producer.get_partition_properties("0")
        # From sequence number 0, which expired: delivery starts at the oldest retained event.
        received = receive(emu, 3, partition_id="0", starting_position=0)
    assert properties["beginning_sequence_number"] == 2
    assert properties["last_enqueued_sequence_number"] == 4
    assert properties["is_empty"] is False
    assert [(e.sequence_number, e.body_as_str()) for e in received] == [
        (2, "e2"),
        (3, "e3"),
        (4, "e4"),
    ]


def test_retention_by_age_expires_every_event_and_keeps_the_numbering():
    with EventHubEmulator(port=0, partitions=1, hubs=(HUB,)) as emu:
        send(emu, ["old-1", "old-2"], partition_id="0")
        emu.set_retention(HUB, Retention(max_age_seconds=2.0))
        time.sleep(2.5)
        with producer_for(emu) as producer:
            expired = producer.get_partition_properties("0")
            send(emu, ["new"], partition_id="0")
            fresh = producer.get_partition_properties("0")
    assert (expired["beginning_sequence_number"], expired["last_enqueued_sequence_number"]) == (
        2,
        1,
    )
    assert expired["is_empty"] is True
    assert (fresh["beginning_sequence_number"], fresh["last_enqueued_sequence_number"]) == (2, 2)
    assert [e.sequence_number for e in emu.events(HUB, "0")] == [2]


def test_retention_applies_again_after_a_restart_with_stable_sequence_numbers(tmp_path: Path):
    with EventHubEmulator(port=0, partitions=1, hubs=(HUB,), data_dir=tmp_path) as first:
        send(first, [f"e{n}" for n in range(4)], partition_id="0")
    keep_two = Retention(max_events=2)
    with EventHubEmulator(
        port=0, partitions=1, hubs=(), data_dir=tmp_path, retention=keep_two
    ) as second:
        send(second, ["e4"], partition_id="0")
        assert [e.sequence_number for e in second.events(HUB, "0")] == [3, 4]


def receive_as(emu: EventHubEmulator, group: str) -> tuple[list[str], list[Exception]]:
    """Bodies received from partition 0 through `group` (until one arrives or an error)."""
    consumer = EventHubConsumerClient.from_connection_string(
        emu.connection_string, consumer_group=group, eventhub_name=HUB, retry_total=0
    )
    got: list[str] = []
    errors: list[Exception] = []
    worker = threading.Thread(
        target=consumer.receive,
        kwargs={
            "on_event": lambda _c, e: got.append(e.body_as_str()),
            "on_error": lambda _c, e: errors.append(e),
            "partition_id": "0",
            "starting_position": "-1",
        },
        daemon=True,
    )
    worker.start()
    deadline = time.monotonic() + WAIT
    while not got and not errors and time.monotonic() < deadline:
        time.sleep(0.05)
    consumer.close()
    worker.join(WAIT)
    return got, errors


def test_an_unknown_consumer_group_is_refused_as_by_the_service():
    with EventHubEmulator(port=0, partitions=1, hubs=(HUB,), consumer_groups=("paisa",)) as emu:
        send(emu, ["x"], partition_id="0")
        # Known groups (case-insensitive, as on the service) receive; any other is not found.
        assert receive_as(emu, "$Default") == (["x"], [])
        assert receive_as(emu, "PAISA") == (["x"], [])
        got, errors = receive_as(emu, "nope")
    assert got == [] and errors
    assert "ConsumerGroups/nope' could not be found" in str(errors[0])


def test_an_in_memory_hub_is_a_new_hub_on_every_start_and_a_data_dir_one_is_not(tmp_path):
    created = []
    for _ in range(2):
        with EventHubEmulator(port=0, partitions=1, hubs=(HUB,)) as emu:
            created.append(emu.created_at_ms[HUB])
            time.sleep(0.01)
    assert created[0] != created[1]
    kept = []
    for _ in range(2):
        with EventHubEmulator(port=0, partitions=1, hubs=(HUB,), data_dir=tmp_path) as emu:
            kept.append(emu.created_at_ms[HUB])
            time.sleep(0.01)
    assert kept[0] == kept[1]
