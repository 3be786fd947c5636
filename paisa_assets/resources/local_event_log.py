"""The zero-configuration event source: an append-only event log in a local folder.

It behaves like an Event Hub for everything paisa relies on: several partitions, sequence
numbers from 0, byte offsets, enqueued times, and a producer and consumers working at once.
Each partition is a JSON-lines log plus a fixed-width index (one offset per sequence number);
an append writes the line, then its index entry, under an exclusive file lock, so a reader that
trusts only the index never sees a half-written event.
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import os
import struct
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
from pydantic import Field

from paisa_assets.events import PartitionBounds, SequenceRange, SourceSnapshot, StreamEvent
from paisa_assets.resources.event_source import EventSource

INDEX_ENTRY = struct.Struct("<Q")
SOURCE_ID_FILE = "source.id"


class LocalEventLog(EventSource):
    """Event log under `root/<hub>/partition_<id>.log` (default data/events)."""

    root: str = Field(default="data/events", description="Folder holding the event logs.")
    hub: str = Field(default="reviews", description="Name of the event hub (a sub-folder).")
    partitions: int = Field(default=4, description="Partitions created for a new hub.")

    def _folder(self) -> Path:
        return Path(self.root).expanduser().absolute() / self.hub

    def _paths(self, partition_id: str) -> tuple[Path, Path]:
        if partition_id not in self.partition_ids():
            raise ValueError(f"unknown partition {partition_id!r} of hub {self.hub!r}")
        folder = self._folder()
        return folder / f"partition_{partition_id}.log", folder / f"partition_{partition_id}.idx"

    def partition_ids(self) -> list[str]:
        return [str(n) for n in range(self.partitions)]

    def _count(self, partition_id: str) -> int:
        index = self._paths(partition_id)[1]
        return index.stat().st_size // INDEX_ENTRY.size if index.exists() else 0

    def snapshot(self) -> SourceSnapshot:
        """A local log keeps every event, so each partition starts at 0."""
        return SourceSnapshot(
            self.source_id(),
            {pid: PartitionBounds(0, self._count(pid) - 1) for pid in self.partition_ids()},
        )

    def source_id(self) -> str:
        """`local:<uuid>/<hub>`, the uuid drawn once per log folder (kept in `source.id`): a log
        that is deleted and started again numbers its events from 0 again, and must not be
        taken for the one whose events the lake already holds."""
        folder = self._folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SOURCE_ID_FILE
        if not path.exists():
            # Written aside, then linked into place: the first process to link draws the id, and
            # no reader ever sees a half-written file.
            draft = folder / f".{SOURCE_ID_FILE}.{uuid.uuid4().hex}"
            draft.write_text(uuid.uuid4().hex, encoding="utf-8")
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        log_id = path.read_text(encoding="utf-8").strip()
        return f"local:{log_id}/{self.hub}"

    def read(self, wanted: SequenceRange, timeout_seconds: float = 30.0) -> list[StreamEvent]:
        log, index = self._paths(wanted.partition_id)
        last = min(wanted.last, self._count(wanted.partition_id) - 1)
        if wanted.first > last:
            return []
        with index.open("rb") as idx:
            idx.seek(wanted.first * INDEX_ENTRY.size)
            raw = idx.read((last - wanted.first + 1) * INDEX_ENTRY.size)
        offsets = [entry[0] for entry in INDEX_ENTRY.iter_unpack(raw)]
        events = []
        with log.open("rb") as stream:
            stream.seek(offsets[0])
            for sequence, offset in zip(itertools.count(wanted.first), offsets, strict=False):
                line = stream.readline()
                record = orjson.loads(line)
                events.append(
                    StreamEvent(
                        partition_id=wanted.partition_id,
                        sequence_number=sequence,
                        offset=str(offset),
                        enqueued_time=datetime.fromisoformat(record["enqueued_time"]),
                        body=base64.b64decode(record["body"]),
                        properties=record.get("properties") or {},
                        partition_key=record.get("partition_key"),
                    )
                )
        return events

    def publish(self, bodies: Sequence[bytes], partition_key: str | None = None) -> int:
        partitions = self.partition_ids()
        self.source_id()  # the log's identity exists before its first event
        by_partition: dict[str, list[bytes]] = {}
        if partition_key is not None:
            pinned = partitions[_stable_hash(partition_key) % len(partitions)]
            by_partition[pinned] = list(bodies)
        else:
            start = self._next_round_robin(len(bodies))
            for n, body in enumerate(bodies):
                by_partition.setdefault(partitions[(start + n) % len(partitions)], []).append(body)
        for partition_id, chunk in by_partition.items():
            self._append(partition_id, chunk, partition_key)
        return len(bodies)

    def _append(self, partition_id: str, bodies: list[bytes], partition_key: str | None) -> None:
        log, index = self._paths(partition_id)
        with log.open("ab") as stream, index.open("ab") as idx:
            fcntl.flock(idx, fcntl.LOCK_EX)
            try:
                # A writer that crashed between line and index left a torn tail: cut it.
                entries = idx.seek(0, os.SEEK_END) // INDEX_ENTRY.size
                idx.truncate(entries * INDEX_ENTRY.size)
                offset = _end_of_last_line(log, index, entries)
                stream.truncate(offset)
                stream.seek(offset)
                lines, positions = [], []
                now = datetime.now(UTC).isoformat(timespec="milliseconds")
                for body in bodies:
                    record = {"enqueued_time": now, "body": base64.b64encode(body).decode()}
                    if partition_key is not None:
                        record["partition_key"] = partition_key
                    positions.append(offset)
                    line = orjson.dumps(record) + b"\n"
                    lines.append(line)
                    offset += len(line)
                stream.write(b"".join(lines))
                stream.flush()
                os.fsync(stream.fileno())
                idx.write(b"".join(INDEX_ENTRY.pack(p) for p in positions))
                idx.flush()
                os.fsync(idx.fileno())
            finally:
                fcntl.flock(idx, fcntl.LOCK_UN)

    def _next_round_robin(self, count: int) -> int:
        """Where round-robin publishing resumes: spreads batches from any number of producers."""
        total = sum(self._count(pid) for pid in self.partition_ids())
        return total % self.partitions

    def hub_name(self) -> str:
        return self.hub

    def describe(self) -> str:
        return f"local event log {self._folder()}"


def _end_of_last_line(log: Path, index: Path, entries: int) -> int:
    """Byte position after the last indexed event (0 for an empty partition)."""
    if entries == 0:
        return 0
    with index.open("rb") as idx:
        idx.seek((entries - 1) * INDEX_ENTRY.size)
        (offset,) = INDEX_ENTRY.unpack(idx.read(INDEX_ENTRY.size))
    with log.open("rb") as stream:
        stream.seek(offset)
        return offset + len(stream.readline())


def _stable_hash(key: str) -> int:
    """Same partition for the same key in every process (Python's hash() is salted)."""
    import hashlib

    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big")
