"""Event storage: hubs of partitions, each an append-only log of events.

Sequence numbers start at 0 per partition and are contiguous, so a sequence number is also the
index into the log. Offsets are the byte position of the event in the partition (the sum of the
sizes of the events before it), as in Event Hubs, and are handed to clients as strings. Enqueued
times are UTC milliseconds and never go backwards within a partition, so every position field a
consumer can start from is monotonic and can be binary-searched.

Events keep the client's exact encoded message sections (header, its own message annotations,
the bare message), so properties and bodies come back with the types they were sent with.

With a data folder each partition is also a JSON-lines file that is appended to as events arrive
and read back on start, so a restarted emulator keeps its events.
"""

from __future__ import annotations

import base64
import bisect
import json
import logging
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_LOGGER = logging.getLogger(__name__)

#: Event Hubs allows letters, digits, periods, hyphens and underscores in entity names.
HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")


@dataclass(frozen=True)
class EventDraft:
    """An event as received from a producer, before the broker assigns its position."""

    header: bytes
    annotations: tuple[bytes, ...]
    bare: bytes
    partition_key: str | None

    @property
    def size(self) -> int:
        return len(self.header) + sum(map(len, self.annotations)) + len(self.bare)


@dataclass(frozen=True)
class StoredEvent:
    """An event in a partition.

    `annotations` are the client's own message-annotation entries (each the encoded key and
    value), without the ones the broker owns (`x-opt-sequence-number` and friends); `bare` is the
    encoded properties, application properties, body and footer sections, byte for byte.
    """

    sequence_number: int
    offset: int
    enqueued_time_ms: int
    partition_key: str | None
    header: bytes
    annotations: tuple[bytes, ...]
    bare: bytes

    @property
    def size(self) -> int:
        return len(self.header) + sum(map(len, self.annotations)) + len(self.bare)

    def to_json(self) -> str:
        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode("ascii")

        return json.dumps(
            {
                "sequence_number": self.sequence_number,
                "offset": self.offset,
                "enqueued_time_ms": self.enqueued_time_ms,
                "partition_key": self.partition_key,
                "header": b64(self.header),
                "annotations": [b64(a) for a in self.annotations],
                "bare": b64(self.bare),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, line: str) -> StoredEvent:
        record = json.loads(line)
        return cls(
            sequence_number=int(record["sequence_number"]),
            offset=int(record["offset"]),
            enqueued_time_ms=int(record["enqueued_time_ms"]),
            partition_key=record["partition_key"],
            header=base64.b64decode(record["header"]),
            annotations=tuple(base64.b64decode(a) for a in record["annotations"]),
            bare=base64.b64decode(record["bare"]),
        )


@dataclass(frozen=True)
class PartitionInfo:
    """What `$management` reports for a partition, and what receivers get as runtime metrics."""

    hub: str
    partition_id: str
    begin_sequence_number: int
    last_enqueued_sequence_number: int
    last_enqueued_offset: str
    last_enqueued_time_ms: int
    is_empty: bool


@dataclass(frozen=True)
class Retention:
    """How long events stay readable, as in Event Hubs (where it is 1 to 7 days, or more): an
    event older than `max_age_seconds`, or beyond the newest `max_events`, expires, and the
    partition's `beginning_sequence_number` moves past it. None keeps everything."""

    max_age_seconds: float | None = None
    max_events: int | None = None

    def first_kept(self, events: list[StoredEvent], now_ms: int) -> int:
        """Index of the first event still retained in `events` (oldest first)."""
        start = 0
        if self.max_events is not None:
            start = max(0, len(events) - self.max_events)
        if self.max_age_seconds is not None:
            horizon = now_ms - int(self.max_age_seconds * 1000)
            keys = [event.enqueued_time_ms for event in events]
            start = max(start, bisect.bisect_right(keys, horizon - 1))
        return start


KEEP_EVERYTHING = Retention()


class Partition:
    """An append-only event log, safe to read from other threads while the broker appends.

    Positions are sequence numbers throughout; with retention the oldest events expire, so the
    retained ones start at `begin` rather than 0, and sequence numbers are never reused.
    """

    def __init__(
        self,
        hub: str,
        partition_id: str,
        log_path: Path | None = None,
        retention: Retention = KEEP_EVERYTHING,
    ) -> None:
        self.hub = hub
        self.partition_id = partition_id
        self.retention = retention
        self._events: list[StoredEvent] = []
        self._last: StoredEvent | None = None  # the newest event, even once it expired
        self._lock = threading.Lock()
        self._listeners: set[Callable[[], None]] = set()
        self._log: IO[str] | None = None
        if log_path is not None:
            self._events = _load_log(log_path)
            self._last = self._events[-1] if self._events else None
            self._log = log_path.open("a", encoding="utf-8")

    def __len__(self) -> int:
        """Events retained now."""
        self.expire()
        return len(self._events)

    @property
    def begin(self) -> int:
        """Sequence number of the oldest retained event (`end` when none is retained)."""
        self.expire()
        events = self._events
        return events[0].sequence_number if events else self.end

    @property
    def end(self) -> int:
        """The sequence number the next event will get."""
        last = self._last
        return last.sequence_number + 1 if last else 0

    def expire(self, now_ms: int | None = None) -> int:
        """Drop events the retention no longer keeps (memory only: a data file keeps them, and
        retention applies again when it is read back). Returns how many expired."""
        if self.retention == KEEP_EVERYTHING:
            return 0
        with self._lock:
            now = int(time.time() * 1000) if now_ms is None else now_ms
            start = self.retention.first_kept(self._events, now)
            if start:
                del self._events[:start]
            return start

    def append(self, drafts: Iterable[EventDraft]) -> list[StoredEvent]:
        """Store events in order; listeners (waiting receivers) are told afterwards."""
        stored = []
        with self._lock:
            for draft in drafts:
                last = self._last
                now_ms = int(time.time() * 1000)
                event = StoredEvent(
                    sequence_number=last.sequence_number + 1 if last else 0,
                    offset=last.offset + max(last.size, 1) if last else 0,
                    enqueued_time_ms=max(now_ms, last.enqueued_time_ms) if last else now_ms,
                    partition_key=draft.partition_key,
                    header=draft.header,
                    annotations=draft.annotations,
                    bare=draft.bare,
                )
                self._events.append(event)
                self._last = event
                stored.append(event)
                if self._log is not None:
                    self._log.write(event.to_json() + "\n")
            if self._log is not None:
                self._log.flush()
        self.expire()
        for listener in list(self._listeners):
            listener()
        return stored

    def get(self, sequence_number: int) -> StoredEvent | None:
        """The retained event with this sequence number (None if expired or not yet sent)."""
        events = self._events
        if not events:
            return None
        index = sequence_number - events[0].sequence_number
        return events[index] if 0 <= index < len(events) else None

    def snapshot(self) -> list[StoredEvent]:
        self.expire()
        with self._lock:
            return list(self._events)

    def first_index(self, field: str, value: int, inclusive: bool) -> int:
        """Sequence number of the first retained event whose `field` is > value (>= when
        inclusive); `end` when none is."""
        self.expire()
        with self._lock:
            keys = [getattr(event, field) for event in self._events]
            base = self._events[0].sequence_number if self._events else self.end
        return base + (bisect.bisect_left if inclusive else bisect.bisect_right)(keys, value)

    def info(self) -> PartitionInfo:
        begin = self.begin
        last = self._last
        return PartitionInfo(
            hub=self.hub,
            partition_id=self.partition_id,
            begin_sequence_number=begin,
            last_enqueued_sequence_number=last.sequence_number if last else -1,
            last_enqueued_offset=str(last.offset) if last else "-1",
            last_enqueued_time_ms=last.enqueued_time_ms if last else 0,
            is_empty=begin > (last.sequence_number if last else -1),
        )

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.add(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.discard(listener)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


DEFAULT_CONSUMER_GROUP = "$Default"


class Hub:
    """An event hub: a fixed set of partitions named "0".."N-1", and its consumer groups."""

    def __init__(
        self,
        name: str,
        partition_count: int,
        created_at_ms: int,
        folder: Path | None = None,
        retention: Retention = KEEP_EVERYTHING,
        consumer_groups: Iterable[str] = (DEFAULT_CONSUMER_GROUP,),
    ) -> None:
        self.name = name
        self.created_at_ms = created_at_ms
        self.consumer_groups = {DEFAULT_CONSUMER_GROUP, *consumer_groups}
        self.partitions = {
            str(i): Partition(
                name, str(i), folder / f"partition-{i}.jsonl" if folder else None, retention
            )
            for i in range(partition_count)
        }
        self._next_partition = 0

    def has_consumer_group(self, name: str) -> bool:
        """Consumer group names are case-insensitive in Event Hubs."""
        return name.lower() in {group.lower() for group in self.consumer_groups}

    @property
    def partition_ids(self) -> list[str]:
        return list(self.partitions)

    def choose_partition(self, partition_key: str | None) -> Partition:
        """Partition key -> a stable hash of it; no key -> round robin (as the service does).

        The hash is CRC-32, not the service's own function: the same key always lands on the
        same partition here, but not necessarily on the one Azure would choose.
        """
        if partition_key:
            index = zlib.crc32(partition_key.encode("utf-8")) % len(self.partitions)
        else:
            index = self._next_partition
            self._next_partition = (index + 1) % len(self.partitions)
        return self.partitions[str(index)]

    def close(self) -> None:
        for partition in self.partitions.values():
            partition.close()


class EventStore:
    """All hubs of the emulator, in memory and optionally persisted under `data_dir`."""

    def __init__(
        self,
        hubs: Iterable[str],
        partition_count: int = 4,
        data_dir: Path | str | None = None,
        retention: Retention = KEEP_EVERYTHING,
        consumer_groups: Iterable[str] = (DEFAULT_CONSUMER_GROUP,),
    ) -> None:
        if partition_count < 1:
            raise ValueError("an event hub needs at least one partition")
        self.default_partition_count = partition_count
        self.retention = retention
        self.consumer_groups = tuple(consumer_groups)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.hubs: dict[str, Hub] = {}
        names = list(hubs)
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            names += sorted(p.parent.name for p in self.data_dir.glob("*/hub.json"))
        for name in names:
            if name not in self.hubs:
                self.create_hub(name)

    def create_hub(self, name: str, partition_count: int | None = None) -> Hub:
        if not HUB_NAME.match(name):
            raise ValueError(f"invalid event hub name {name!r}")
        if name in self.hubs:
            return self.hubs[name]
        count = partition_count or self.default_partition_count
        created_at_ms = int(time.time() * 1000)
        folder = None
        if self.data_dir is not None:
            folder = self.data_dir / name
            folder.mkdir(exist_ok=True)
            meta_path = folder / "hub.json"
            if meta_path.exists():
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                if int(meta["partition_count"]) != count:
                    _LOGGER.warning(
                        "event hub %s keeps its stored %s partitions (asked for %s)",
                        name,
                        meta["partition_count"],
                        count,
                    )
                count, created_at_ms = int(meta["partition_count"]), int(meta["created_at_ms"])
            else:
                meta = {"name": name, "partition_count": count, "created_at_ms": created_at_ms}
                meta_path.write_text(json.dumps(meta), encoding="utf-8")
        hub = Hub(name, count, created_at_ms, folder, self.retention, self.consumer_groups)
        self.hubs[name] = hub
        _LOGGER.info("event hub %s: %d partitions", name, count)
        return hub

    def hub(self, name: str) -> Hub | None:
        return self.hubs.get(name)

    def partition(self, hub: str, partition_id: str) -> Partition | None:
        found = self.hubs.get(hub)
        return found.partitions.get(partition_id) if found else None

    def close(self) -> None:
        for hub in self.hubs.values():
            hub.close()


def _load_log(path: Path) -> list[StoredEvent]:
    """Read a partition file back; a torn last line (a crash mid-write) is dropped."""
    if not path.exists():
        return []
    events: list[StoredEvent] = []
    good_bytes = 0
    with path.open("r", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                if not line.endswith("\n"):
                    raise ValueError("no line end")
                event = StoredEvent.from_json(line)
            except (ValueError, KeyError, TypeError) as exc:
                _LOGGER.warning("%s:%d: dropping unreadable event (%s)", path, number, exc)
                break
            if event.sequence_number != len(events):
                _LOGGER.warning("%s:%d: sequence gap, dropping the rest", path, number)
                break
            events.append(event)
            good_bytes += len(line.encode("utf-8"))
    if good_bytes != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(good_bytes)
    return events
