"""The TCP server and the broker state every connection shares.

`Broker` owns the event store and the set of live connections, and does the one thing that
crosses connections: storing a producer's events, which wakes the receivers waiting on that
partition wherever they are connected. `EmulatorServer` accepts connections on an asyncio loop;
all protocol state lives on that loop, so nothing here needs locks (the store has its own for
readers on other threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from paisa_eventhub_emulator.addresses import Address
from paisa_eventhub_emulator.connection import AmqpConnection
from paisa_eventhub_emulator.links import Outcome, accepted, rejected
from paisa_eventhub_emulator.messages import MessageError, parse_events
from paisa_eventhub_emulator.session import MAX_MESSAGE_SIZE
from paisa_eventhub_emulator.storage import EventDraft, EventStore, StoredEvent

_LOGGER = logging.getLogger(__name__)

CONTAINER_ID = "paisa-eventhub-emulator"
DEFAULT_IDLE_TIMEOUT = 240.0


@dataclass
class DeliveryFaults:
    """Faults injected into event delivery, to test consumers against what Event Hubs may do.

    `drop_after`: cut the receiving connection (TCP, no AMQP goodbye) right after the next that
    many events were sent to consumers, i.e. in the middle of a receive; one shot.
    `duplicate`: send every event twice (Event Hubs delivers at least once).
    """

    drop_after: int | None = None
    duplicate: bool = False
    dropped: int = 0  # connections cut by `drop_after` so far


class Broker:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.container_id = CONTAINER_ID
        self.connections: set[AmqpConnection] = set()
        self.accepted = 0  # connections accepted since the start
        self.faults = DeliveryFaults()

    def ingest(self, address: Address, payload: bytes, message_format: int) -> Outcome:
        """Store the events of one producer transfer (a single event or a batch)."""
        if len(payload) > MAX_MESSAGE_SIZE:
            return rejected(
                "amqp:link:message-size-exceeded",
                f"message of {len(payload)} bytes exceeds the limit of {MAX_MESSAGE_SIZE}",
            )
        try:
            drafts, partition_key = parse_events(payload, message_format)
        except MessageError as exc:
            _LOGGER.warning("rejecting a message sent to %s: %s", address, exc.description)
            return rejected(exc.condition, exc.description)
        try:
            self.append(address.hub or "", address.partition_id, drafts, partition_key)
        except KeyError as exc:
            return rejected("amqp:not-found", str(exc.args[0]))
        return accepted()

    def append(
        self,
        hub_name: str,
        partition_id: str | None,
        drafts: list[EventDraft],
        partition_key: str | None = None,
    ) -> tuple[str, list[StoredEvent]]:
        """Store events in one partition: the given one, else by partition key or round robin.

        Returns the partition id and the stored events.
        """
        hub = self.store.hub(hub_name)
        if hub is None:
            raise KeyError(f"event hub {hub_name!r} does not exist")
        if partition_id is None:
            partition = hub.choose_partition(partition_key)
        elif partition_id in hub.partitions:
            partition = hub.partitions[partition_id]
        else:
            raise KeyError(f"partition {partition_id!r} of event hub {hub_name!r} does not exist")
        stored = partition.append(drafts)
        if stored:
            _LOGGER.debug(
                "%s/%s: stored sequence numbers %d..%d",
                hub_name,
                partition.partition_id,
                stored[0].sequence_number,
                stored[-1].sequence_number,
            )
        return partition.partition_id, stored


class EmulatorServer:
    """An asyncio AMQP server in front of a `Broker`; start, stop and fault injection."""

    def __init__(
        self,
        store: EventStore,
        host: str = "127.0.0.1",
        port: int = 5672,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.broker = Broker(store)
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        _LOGGER.info("Event Hubs emulator listening on %s:%d", self.host, self.port)
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection = AmqpConnection(self.broker, reader, writer, idle_timeout=self.idle_timeout)
        self.broker.connections.add(connection)
        self.broker.accepted += 1
        _LOGGER.debug("%s: accepted", connection)
        try:
            await connection.serve()
        finally:
            self.broker.connections.discard(connection)
            self._tasks.discard(task)

    def drop_connections(self) -> int:
        """Cut every client connection at the TCP level, as a network failure would."""
        connections = list(self.broker.connections)
        for connection in connections:
            connection.abort()
        if connections:
            _LOGGER.info("dropped %d connection(s)", len(connections))
        return len(connections)

    async def stop(self) -> None:
        """Stop listening and end every connection."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.broker.connections):
            connection.close("amqp:connection:forced", "the emulator is shutting down")
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=2.0)
            for task in pending:
                task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        _LOGGER.info("Event Hubs emulator on %s:%d stopped", self.host, self.port)
