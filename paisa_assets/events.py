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


@dataclass(frozen=True)
class SequenceRange:
    """Sequence numbers `first`..`last` (inclusive) of one partition."""

    partition_id: str
    first: int
    last: int

    @property
    def size(self) -> int:
        return max(0, self.last - self.first + 1)
