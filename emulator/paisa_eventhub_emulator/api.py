"""The emulator as a Python object: run it in a background thread, point clients at it, look inside.

    with EventHubEmulator(port=0, partitions=4, hubs=("reviews",)) as emulator:
        producer = EventHubProducerClient.from_connection_string(
            emulator.connection_string, eventhub_name="reviews"
        )
        ...
        assert [e.body for e in emulator.events("reviews", "0")] == [b"..."]
        emulator.drop_connections()  # the network fails; clients must reconnect

The server runs on its own asyncio loop in a daemon thread; everything here is safe to call from
the test's thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from azure.eventhub._pyamqp._encode import encode_payload
from azure.eventhub._pyamqp.message import Message

from paisa_eventhub_emulator.messages import decode_event, parse_event
from paisa_eventhub_emulator.server import DEFAULT_IDLE_TIMEOUT, EmulatorServer
from paisa_eventhub_emulator.storage import (
    DEFAULT_CONSUMER_GROUP,
    KEEP_EVERYTHING,
    EventStore,
    Hub,
    Retention,
    StoredEvent,
)

T = TypeVar("T")
DEFAULT_HUBS = ("reviews",)
#: Key name and key are not checked; these are the values Microsoft's emulator documents.
KEY_NAME = "RootManageSharedAccessKey"
KEY = "SAS_KEY_VALUE"


def connection_string(host: str, port: int, eventhub_name: str | None = None) -> str:
    """A connection string the `azure-eventhub` client accepts for the emulator (plain AMQP)."""
    text = (
        f"Endpoint=sb://{host}:{port};SharedAccessKeyName={KEY_NAME};"
        f"SharedAccessKey={KEY};UseDevelopmentEmulator=true"
    )
    return f"{text};EntityPath={eventhub_name}" if eventhub_name else text


@dataclass(frozen=True)
class EventRecord:
    """A stored event as a consumer would see it, for assertions."""

    hub: str
    partition_id: str
    sequence_number: int
    offset: str
    enqueued_time: dt.datetime
    partition_key: str | None
    body: Any  # bytes for data bodies (sections joined), else the amqp-value / sequence
    properties: dict[str, Any]  # application properties, keys as str (values as decoded)
    message: Message  # everything, as the client's decoder returns it

    @classmethod
    def from_stored(cls, hub: str, partition_id: str, event: StoredEvent) -> EventRecord:
        message = decode_event(event)
        if message.data is not None:
            body: Any = b"".join(message.data)
        elif message.sequence is not None:
            body = message.sequence
        else:
            body = message.value
        properties = {
            (k.decode() if isinstance(k, bytes) else str(k)): v
            for k, v in (message.application_properties or {}).items()
        }
        return cls(
            hub=hub,
            partition_id=partition_id,
            sequence_number=event.sequence_number,
            offset=str(event.offset),
            enqueued_time=dt.datetime.fromtimestamp(event.enqueued_time_ms / 1000, dt.UTC),
            partition_key=event.partition_key,
            body=body,
            properties=properties,
            message=message,
        )


class EventHubEmulator:
    """A local Event Hubs endpoint for the unmodified `azure-eventhub` client."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        partitions: int = 4,
        hubs: Iterable[str] = DEFAULT_HUBS,
        data_dir: str | Path | None = None,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        retention: Retention = KEEP_EVERYTHING,
        consumer_groups: Iterable[str] = (DEFAULT_CONSUMER_GROUP,),
    ) -> None:
        self.store = EventStore(hubs, partitions, data_dir, retention, consumer_groups)
        self._server = EmulatorServer(self.store, host, port, idle_timeout)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> EventHubEmulator:
        """Start serving in a background thread; returns once the port is bound."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._server.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._server.stop())
                loop.close()

        self._thread = threading.Thread(target=run, name="eventhub-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            self.store.close()
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close every connection, stop the server and release the data files (for good)."""
        if self._thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self.store.close()

    def __enter__(self) -> EventHubEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addressing -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def connection_string(self) -> str:
        """Namespace connection string; pass `eventhub_name=` to the client."""
        return connection_string(self.host, self.port)

    # -- inspection and fault injection -----------------------------------------------------

    @property
    def hubs(self) -> list[str]:
        return list(self.store.hubs)

    def partition_ids(self, hub: str) -> list[str]:
        return self._hub(hub).partition_ids

    def events(self, hub: str, partition_id: str | None = None) -> list[EventRecord]:
        """Stored events of one partition, or of all (partition by partition) in order."""
        found = self._hub(hub)
        ids = [partition_id] if partition_id is not None else found.partition_ids
        return [
            EventRecord.from_stored(hub, pid, event)
            for pid in ids
            for event in found.partitions[pid].snapshot()
        ]

    def event_count(self, hub: str, partition_id: str | None = None) -> int:
        found = self._hub(hub)
        ids = [partition_id] if partition_id is not None else found.partition_ids
        return sum(len(found.partitions[pid]) for pid in ids)

    def set_retention(self, hub: str, retention: Retention) -> dict[str, int]:
        """Change a hub's retention now (events age out as on a hub running for weeks);
        returns each partition's new beginning sequence number."""
        found = self._hub(hub)
        for partition in found.partitions.values():
            partition.retention = retention
        return {pid: partition.begin for pid, partition in found.partitions.items()}

    @property
    def created_at_ms(self) -> dict[str, int]:
        """Each hub's creation time (new on every in-memory start; kept by a data folder)."""
        return {name: hub.created_at_ms for name, hub in self.store.hubs.items()}

    @property
    def connections_accepted(self) -> int:
        """Client connections accepted since the start (open or closed)."""
        return self._server.broker.accepted

    def drop_connections(self) -> int:
        """Cut every client connection (no AMQP Close), as a network failure would."""
        return self._call(self._server.drop_connections)

    def drop_connection_after(self, events: int) -> None:
        """Cut the connection of the consumer that receives the `events`-th event from now on,
        right after sending it: a network failure in the middle of a receive (one shot)."""

        def arm() -> None:
            self._server.broker.faults.drop_after = events

        self._call(arm)

    def deliver_twice(self, enabled: bool = True) -> None:
        """Send every event to consumers twice from now on, as at-least-once delivery may."""

        def arm() -> None:
            self._server.broker.faults.duplicate = enabled

        self._call(arm)

    @property
    def dropped_mid_receive(self) -> int:
        """Connections cut by `drop_connection_after` so far."""
        return self._server.broker.faults.dropped

    def publish(
        self,
        hub: str,
        bodies: Sequence[bytes | str],
        *,
        partition_id: str | None = None,
        partition_key: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> list[EventRecord]:
        """Store events without a client (in one partition, as one batch would be)."""
        drafts = []
        for body in bodies:
            message = Message(
                data=[body.encode() if isinstance(body, str) else body],
                application_properties=dict(properties) if properties else None,
            )
            encoded = bytearray()
            encode_payload(encoded, message)
            drafts.append(parse_event(bytes(encoded), default_key=partition_key))
        broker = self._server.broker
        pid, stored = self._call(lambda: broker.append(hub, partition_id, drafts, partition_key))
        return [EventRecord.from_stored(hub, pid, event) for event in stored]

    def _hub(self, name: str) -> Hub:
        hub = self.store.hub(name)
        if hub is None:
            raise KeyError(f"no event hub {name!r} (have {', '.join(self.store.hubs)})")
        return hub

    def _call(self, function: Callable[[], T]) -> T:
        """Run a function on the server loop (where all protocol state lives) and wait."""
        if self._loop is None:
            return function()

        async def call() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 5672,
    partitions: int = 4,
    hubs: Iterable[str] = DEFAULT_HUBS,
    data_dir: str | Path | None = None,
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[EmulatorServer], None] | None = None,
    retention: Retention = KEEP_EVERYTHING,
    consumer_groups: Iterable[str] = (DEFAULT_CONSUMER_GROUP,),
) -> None:
    """Serve on the current loop until `stop` is set (or forever); `on_ready(server)` once bound."""
    store = EventStore(hubs, partitions, data_dir, retention, consumer_groups)
    server = EmulatorServer(store, host, port, idle_timeout)
    try:
        await server.start()
        if on_ready is not None:
            on_ready(server)
        await (stop or asyncio.Event()).wait()
    finally:
        await server.stop()
        store.close()
