"""Where review events come from: one interface, a local event log and Azure Event Hubs.

Events are addressed the Event Hubs way: a partition id and a sequence number, unique together
(an offset is unique only inside one partition, which is how the datathon winner lost events).
The sensor asks each partition how far it goes; a run reads an explicit sequence range.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from dagster import ConfigurableResource

from paisa_assets.events import PartitionBounds, SequenceRange, SourceSnapshot, StreamEvent

__all__ = ["EventSource", "PartitionBounds", "SequenceRange", "SourceSnapshot", "StreamEvent"]


class EventSource(ConfigurableResource, ABC):
    """A partitioned, append-only log of events."""

    @abstractmethod
    def partition_ids(self) -> list[str]:
        """The partitions, in the source's order."""

    @abstractmethod
    def snapshot(self) -> SourceSnapshot:
        """The source's identity and every partition's retained range, in one cheap call
        (partition metadata only, no events): what the sensor plans from."""

    def last_sequence_numbers(self) -> dict[str, int]:
        """The last enqueued sequence number of every partition (-1 for an empty one)."""
        return {pid: bounds.last for pid, bounds in self.snapshot().bounds.items()}

    @abstractmethod
    def read(self, wanted: SequenceRange, timeout_seconds: float = 30.0) -> list[StreamEvent]:
        """The events of `wanted` that exist; may hold duplicates, never events outside it."""

    @abstractmethod
    def publish(self, bodies: Sequence[bytes], partition_key: str | None = None) -> int:
        """Append events (spread over partitions unless a key pins one); returns how many."""

    @contextmanager
    def publishing(self) -> Iterator[Callable[[Sequence[bytes]], int]]:
        """A `publish` function for many batches in a row: a source with connections (Event
        Hubs) keeps one producer open for all of them instead of one per batch."""
        yield self.publish

    @abstractmethod
    def hub_name(self) -> str:
        """The event hub's name (part of every event's address in the lake)."""

    @abstractmethod
    def describe(self) -> str:
        """Where the events are, for messages and metadata (never a secret)."""
