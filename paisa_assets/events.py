"""The shape of a stream event, shared by the event sources and the pure transforms."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class StreamEvent:
    partition_id: str
    sequence_number: int
    offset: str
    enqueued_time: datetime
    body: bytes
    properties: dict[str, str] = field(default_factory=dict)
    partition_key: str | None = None


class InclusiveInterval:
    """Sequence numbers `first`..`last`, both included: empty (size 0) when `first > last`."""

    first: int
    last: int

    @property
    def size(self) -> int:
        return max(0, self.last - self.first + 1)


@dataclass(frozen=True)
class SequenceRange(InclusiveInterval):
    """Sequence numbers `first`..`last` (inclusive) of one partition."""

    partition_id: str
    first: int
    last: int


@dataclass(frozen=True)
class PartitionBounds(InclusiveInterval):
    """What a partition holds right now: `first` is the oldest retained sequence number (the
    hub's `beginning_sequence_number`; everything below it has expired), `last` the last
    enqueued one (-1 for a partition that never had an event). Empty when `first > last`."""

    first: int
    last: int


@dataclass(frozen=True)
class SourceSnapshot:
    """One look at an event source: who it is and how far each partition goes.

    `source_id` names the sequence-number space: the same partition id and sequence number on
    another hub, or on the same hub recreated, is another event, so the id is part of the key.
    """

    source_id: str
    bounds: dict[str, PartitionBounds]
