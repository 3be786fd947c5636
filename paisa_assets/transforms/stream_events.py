"""Event Hubs events -> bronze rows: the raw event table, then the parsed review table.

The real stream's payload is a JSON object of the review fields with every value a string
(`overall` "5.0", `verified` "true", `style` and `image` JSON-encoded strings) plus
`internal_partition` and `partition_number`, and no review time. Parsed events take the shape
of the batch bronze reviews, with lineage columns that point at the event (`_partition` is the
hub partition, `_source_file` the partition's address, `_line` the sequence number), so the
silver typing of batch reviews applies to them unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import orjson
import polars as pl

from paisa_assets.events import StreamEvent
from paisa_assets.transforms.bronze_parse import (
    KEY_FIELDS,
    UNSTORABLE_NESTING,
    append_record,
    key_violations,
)
from paisa_assets.transforms.schemas import BRONZE_REVIEWS_COLUMNS

REQUIRED_FIELDS = ("asin", "reviewerID", "overall")
STREAM_FIELDS = ("internal_partition", "partition_number")
TIMESTAMP = pl.Datetime("us", "UTC")

# An event's identity: which hub (source), which partition, which sequence number.
EVENT_KEY = ["source_id", "partition_id", "sequence_number"]

EH_STREAMING_SCHEMA = pl.Schema(
    {
        "source_id": pl.String(),
        "partition_id": pl.String(),
        "sequence_number": pl.Int64(),
        "offset": pl.String(),
        "enqueued_time": TIMESTAMP,
        "partition_key": pl.String(),
        "properties": pl.String(),
        "body": pl.String(),
        "body_is_utf8": pl.Boolean(),
        "_ingested_at": TIMESTAMP,
    }
)

REVIEWS_STREAMING_SCHEMA = pl.Schema(
    {
        **{name: pl.String() for name in BRONZE_REVIEWS_COLUMNS},
        **{name: pl.String() for name in STREAM_FIELDS},
        "_rescued_data": pl.String(),
        "source_id": pl.String(),
        "partition_id": pl.String(),
        "sequence_number": pl.Int64(),
        "enqueued_time": TIMESTAMP,
        "_partition": pl.String(),
        "_source_file": pl.String(),
        "_line": pl.Int64(),
        "_ingested_at": TIMESTAMP,
    }
)

STREAM_QUARANTINE_SCHEMA = pl.Schema(
    {
        "source_id": pl.String(),
        "partition_id": pl.String(),
        "sequence_number": pl.Int64(),
        "_partition": pl.String(),
        "_source_file": pl.String(),
        "_line": pl.Int64(),
        "raw": pl.String(),
        "reason": pl.String(),
    }
)


ADDRESS = re.compile(r"^eventhub://(?P<source_id>.+)/partitions/(?P<partition_id>[^/]+)$")


def partition_address(source_id: str, partition_id: str) -> str:
    """The `_source_file` of a stream event: where it came from, like a batch file path. With
    `_line` (the sequence number) it is the event's whole identity, so quarantine rows, keyed by
    (`_source_file`, `_line`), name the event unambiguously."""
    return f"eventhub://{source_id}/partitions/{partition_id}"


def address_key(source_file: pl.Expr, line: pl.Expr) -> list[pl.Expr]:
    """(source_id, partition_id, sequence_number) expressions of an event's address."""
    return [
        source_file.str.extract(ADDRESS.pattern, 1).alias("source_id"),
        source_file.str.extract(ADDRESS.pattern, 2).alias("partition_id"),
        line.cast(pl.Int64).alias("sequence_number"),
    ]


def events_to_rows(
    events: Sequence[StreamEvent], ingested_at: datetime, source_id: str
) -> pl.DataFrame:
    """The raw event table: one row per event, the body as text (invalid UTF-8 escaped)."""
    rows = []
    for event in events:
        try:
            body, utf8 = event.body.decode("utf-8"), True
        except UnicodeDecodeError:
            body, utf8 = event.body.decode("utf-8", errors="backslashreplace"), False
        rows.append(
            {
                "source_id": source_id,
                "partition_id": event.partition_id,
                "sequence_number": event.sequence_number,
                "offset": event.offset,
                "enqueued_time": event.enqueued_time,
                "partition_key": event.partition_key,
                "properties": orjson.dumps(event.properties).decode() if event.properties else None,
                "body": body,
                "body_is_utf8": utf8,
                "_ingested_at": ingested_at,
            }
        )
    return pl.DataFrame(rows, schema=EH_STREAMING_SCHEMA)


def _problem(body: str, utf8: bool) -> tuple[dict | None, str | None]:
    if not utf8:
        return None, "body is not valid UTF-8"
    try:
        record = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, f"body is not valid JSON: {str(exc).splitlines()[0]}"
    if not isinstance(record, dict):
        return None, f"body is not a JSON object but a JSON {type(record).__name__}"
    missing = [name for name in REQUIRED_FIELDS if record.get(name) in (None, "")]
    if missing:
        return None, "missing required field(s): " + ", ".join(missing)
    # Keys must be JSON strings, as in batch files: a numeric asin would become a text key.
    wrong_keys = key_violations(record, KEY_FIELDS)
    if wrong_keys:
        return None, wrong_keys
    return record, None


def parse_events(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(parsed review rows, quarantine rows) of raw event rows (EH_STREAMING_SCHEMA)."""
    columns = (*BRONZE_REVIEWS_COLUMNS, *STREAM_FIELDS)
    buffers: dict[str, list] = {name: [] for name in REVIEWS_STREAMING_SCHEMA.names()}
    column_buffers = [(name, buffers[name]) for name in columns]
    quarantine: list[dict] = []
    known = set(columns)
    for row in raw.iter_rows(named=True):
        address = partition_address(row["source_id"], row["partition_id"])
        record, reason = _problem(row["body"], row["body_is_utf8"])
        if record is not None:
            try:
                append_record(record, column_buffers, buffers["_rescued_data"], known)
            except orjson.JSONEncodeError as exc:
                record, reason = None, f"{UNSTORABLE_NESTING}: {exc}"
        if record is None:
            quarantine.append(
                {
                    "source_id": row["source_id"],
                    "partition_id": row["partition_id"],
                    "sequence_number": row["sequence_number"],
                    "_partition": row["partition_id"],
                    "_source_file": address,
                    "_line": row["sequence_number"],
                    "raw": row["body"][:10_000],
                    "reason": reason,
                }
            )
            continue
        for name, value in (
            ("source_id", row["source_id"]),
            ("partition_id", row["partition_id"]),
            ("sequence_number", row["sequence_number"]),
            ("enqueued_time", row["enqueued_time"]),
            ("_partition", row["partition_id"]),
            ("_source_file", address),
            ("_line", row["sequence_number"]),
            ("_ingested_at", row["_ingested_at"]),
        ):
            buffers[name].append(value)
    parsed = pl.DataFrame(buffers, schema=REVIEWS_STREAMING_SCHEMA)
    return parsed, pl.DataFrame(quarantine, schema=STREAM_QUARANTINE_SCHEMA)
