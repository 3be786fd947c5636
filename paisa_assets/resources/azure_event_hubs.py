"""Azure Event Hubs as the event source, through the official `azure-eventhub` client.

Reads are bounded sequence ranges of one partition (what the sensor asked for), not an endless
subscription: the consumer starts at `first` inclusive and stops at `last`, or when the
partition has nothing more within the wait.

The client is imported where a consumer or producer is made: every Dagster process imports this
module with the definitions, and only the streaming sensor and runs talk to a hub.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pydantic import Field

from paisa_assets.events import PartitionBounds, SequenceRange, SourceSnapshot, StreamEvent
from paisa_assets.redaction import protect
from paisa_assets.resources.event_source import EventSource

if TYPE_CHECKING:
    from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient

MAX_WAIT_SECONDS = 3.0
MAX_BATCH = 10_000
# A sensor tick must answer within its time limit: fail after a few retries, clearly.
RETRIES = 2


class AzureEventHubs(EventSource):
    """An Event Hub named by a connection string (from PAISA_EVENTHUB_CONNECTION_STRING)."""

    connection_string: str = Field(
        description="Event Hubs namespace connection string (a secret).", repr=False
    )
    eventhub_name: str = Field(description="The event hub (topic) name.")
    consumer_group: str = Field(default="$Default")

    def _consumer(self) -> EventHubConsumerClient:
        from azure.eventhub import EventHubConsumerClient

        protect(self.connection_string)  # out of every log line (see paisa_assets.redaction)
        return EventHubConsumerClient.from_connection_string(
            self.connection_string,
            consumer_group=self.consumer_group,
            eventhub_name=self.eventhub_name,
            retry_total=RETRIES,
        )

    def _producer(self) -> EventHubProducerClient:
        from azure.eventhub import EventHubProducerClient

        protect(self.connection_string)
        return EventHubProducerClient.from_connection_string(
            self.connection_string, eventhub_name=self.eventhub_name, retry_total=RETRIES
        )

    def partition_ids(self) -> list[str]:
        with self._consumer() as consumer:
            return list(consumer.get_partition_ids())

    def snapshot(self) -> SourceSnapshot:
        """The hub's identity and each partition's retained range, from partition metadata.

        An empty partition (`is_empty`) either never had an event (last -1) or has had all of
        them expire: either way nothing up to `last` can be read any more.
        """
        from azure.eventhub.exceptions import EventHubError

        try:
            with self._consumer() as consumer:
                hub = consumer.get_eventhub_properties()
            # Each management request is a connection of its own (with the client's polling):
            # the partitions are asked side by side.
            ids = list(hub["partition_ids"])
            with ThreadPoolExecutor(max_workers=min(8, len(ids) or 1)) as pool:
                properties = list(pool.map(self._partition_properties, ids))
        except EventHubError as exc:
            raise ConnectionError(self._failure(exc)) from None
        bounds = {}
        for partition_id, found in zip(ids, properties, strict=True):
            last = int(found["last_enqueued_sequence_number"])
            first = last + 1 if found["is_empty"] else int(found["beginning_sequence_number"])
            bounds[partition_id] = PartitionBounds(first, last)
        return SourceSnapshot(self._source_id(hub["created_at"]), bounds)

    def _partition_properties(self, partition_id: str) -> dict:
        with self._consumer() as consumer:
            return consumer.get_partition_properties(partition_id)

    def _source_id(self, created_at: object) -> str:
        """`eventhubs:<namespace host>/<hub>@<created_at>`: a hub deleted and created again (or
        an in-memory emulator restarted) numbers its events from 0 again under a new id."""
        stamp = created_at.isoformat() if hasattr(created_at, "isoformat") else str(created_at)
        return f"eventhubs:{self._host()}/{self.eventhub_name}@{stamp}"

    def _failure(self, error: Exception) -> str:
        """A message naming the settings to check; the connection string itself never appears."""
        reason = str(error).split("\n")[0][:300]
        return (
            f"cannot read {self.describe()}: {type(error).__name__}: {reason}. Check "
            "PAISA_EVENTHUB_CONNECTION_STRING, PAISA_EVENTHUB_NAME and "
            "PAISA_EVENTHUB_CONSUMER_GROUP."
        )

    def read(self, wanted: SequenceRange, timeout_seconds: float = 30.0) -> list[StreamEvent]:
        if wanted.size == 0:
            return []
        events: list[StreamEvent] = []
        done = threading.Event()
        consumer = self._consumer()

        def on_batch(_context: object, batch: list[EventData]) -> None:
            if not batch:  # the partition had nothing more within the wait
                done.set()
                return
            for event in batch:
                if event.sequence_number > wanted.last:
                    done.set()
                    return
                if event.sequence_number >= wanted.first:
                    events.append(_to_stream_event(wanted.partition_id, event))
            if events and events[-1].sequence_number >= wanted.last:
                done.set()

        def on_error(_context: object, error: Exception) -> None:
            errors.append(error)

        errors: list[Exception] = []
        worker = threading.Thread(
            target=consumer.receive_batch,
            kwargs={
                "on_event_batch": on_batch,
                "on_error": on_error,
                "partition_id": wanted.partition_id,
                "starting_position": wanted.first,
                "starting_position_inclusive": True,
                # The whole range as one batch: a batch smaller than max_batch_size is handed
                # over only after max_wait_time, so a range of 500 in batches of 300 would wait
                # that long for its last 200 events.
                "max_batch_size": min(MAX_BATCH, wanted.size),
                "prefetch": min(MAX_BATCH, wanted.size),
                "max_wait_time": MAX_WAIT_SECONDS,
            },
            daemon=True,
        )
        worker.start()
        complete = done.wait(timeout_seconds)
        consumer.close()
        # Once the range is complete the receive loop only has to notice the close (up to a
        # second): it ends on its own, and what it could still add is not returned.
        worker.join(timeout=0.2 if complete else 30)
        received = list(events)
        if not received and errors:
            raise ConnectionError(self._failure(errors[-1])) from None
        return received

    def publish(self, bodies: Sequence[bytes], partition_key: str | None = None) -> int:
        """Send the events; without a key they are dealt round-robin over the partitions (a
        batch always lands in a single partition, so one batch per partition is sent)."""
        with self.publishing(partition_key) as send:
            return send(bodies)

    @contextmanager
    def publishing(
        self, partition_key: str | None = None
    ) -> Iterator[Callable[[Sequence[bytes]], int]]:
        """One producer (one AMQP connection and its links) for every batch sent through it:
        opening one per batch costs a connection handshake each time."""
        with self._producer() as producer:
            partitions = producer.get_partition_ids() if partition_key is None else []

            def send(bodies: Sequence[bytes]) -> int:
                if partition_key is not None:
                    self._send(producer, bodies, partition_key=partition_key)
                    return len(bodies)
                for n, partition_id in enumerate(partitions):
                    chunk = bodies[n :: len(partitions)]
                    if chunk:
                        self._send(producer, chunk, partition_id=partition_id)
                return len(bodies)

            yield send

    @staticmethod
    def _send(producer: EventHubProducerClient, bodies: Sequence[bytes], **target: str) -> None:
        from azure.eventhub import EventData

        batch = producer.create_batch(**target)
        for body in bodies:
            try:
                batch.add(EventData(body))
            except ValueError:  # the batch is full: send it and start another
                producer.send_batch(batch)
                batch = producer.create_batch(**target)
                batch.add(EventData(body))
        if len(batch):
            producer.send_batch(batch)

    def hub_name(self) -> str:
        return self.eventhub_name

    def _host(self) -> str:
        match = re.search(r"Endpoint=sb://([^/;]+)", self.connection_string)
        return match.group(1) if match else "?"

    def describe(self) -> str:
        return f"event hub {self.eventhub_name} at {self._host()}"


def _to_stream_event(partition_id: str, event: EventData) -> StreamEvent:
    properties = {
        (k.decode() if isinstance(k, bytes) else str(k)): (
            v.decode() if isinstance(v, bytes) else str(v)
        )
        for k, v in (event.properties or {}).items()
    }
    return StreamEvent(
        partition_id=partition_id,
        sequence_number=event.sequence_number,
        offset=str(event.offset),
        enqueued_time=event.enqueued_time,
        body=b"".join(event.body) if not isinstance(event.body, bytes) else event.body,
        properties=properties,
        partition_key=(
            event.partition_key.decode()
            if isinstance(event.partition_key, bytes)
            else event.partition_key
        ),
    )
