"""What each streaming step does, exactly once by construction.

Every event is identified by (source id, partition id, sequence number): the source id names
the hub (namespace, name and creation time, or the local log's own id), so switching sources or
recreating a hub never makes a new event look like one already held. Every write is keyed by it
(or, in silver, by review_id), so a retried run, a reset sensor cursor, a crash between a write
and a cursor update, or a duplicate delivery changes nothing. Which events still need work is
read from the tables themselves, never from a cursor.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from paisa_assets.bronze_ingest import QUARANTINE_SCHEMA as BRONZE_QUARANTINE_SCHEMA
from paisa_assets.events import SequenceRange, SourceSnapshot
from paisa_assets.faults import crash_point
from paisa_assets.lake_views import arrow_schema, ensure_table
from paisa_assets.registry import delta_partition_by
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.silver_merge import SILVER_QUARANTINE_SCHEMA
from paisa_assets.streaming.ingest import migrate_to_source_ids, read_ranges
from paisa_assets.streaming.plan import reconcile
from paisa_assets.streaming.progress import held_intervals
from paisa_assets.streaming.work import (
    EARLIEST_ENQUEUED_WINS,
    SILVER_STREAM_DATASET,
    STREAM_DATASET,
    event_keys,
    pending_events,
    quarantined_event_keys,
)
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_REVIEWS_STREAMING,
    BRONZE_STREAM_QUARANTINE,
    SILVER_REVIEWS_STREAMING,
    SILVER_STREAM_DECIDED,
    SILVER_STREAM_QUARANTINE,
)
from paisa_assets.transforms.stream_events import (
    EH_STREAMING_SCHEMA,
    EVENT_KEY,
    REVIEWS_STREAMING_SCHEMA,
    events_to_rows,
    parse_events,
)
from paisa_assets.transforms.stream_reviews import (
    decisions,
    dedupe_stream_reviews,
    split_stream_reviews,
)


def ingest_ranges(
    lakehouse: Lakehouse,
    event_source: EventSource,
    snapshot: SourceSnapshot,
    ranges: list[SequenceRange],
    warn: Callable[[str], None],
) -> tuple[int, int, dict[str, int]]:
    """Fetch the ranges into bronze.eh_streaming, one commit per range; returns (events
    received, rows inserted, events expired before ingestion per partition)."""
    received = inserted = 0
    ingested_at = datetime.now(UTC)
    for wanted, events in zip(ranges, read_ranges(event_source, ranges), strict=True):
        received += len(events)
        if len(events) < wanted.size:
            warn(f"{wanted}: {len(events)} of {wanted.size} events received")
        rows = events_to_rows(events, ingested_at, snapshot.source_id).unique(
            EVENT_KEY, keep="first"
        )
        metrics = lakehouse.merge(
            BRONZE_EH_STREAMING,
            rows,
            keys=EVENT_KEY,
            insert_only=True,
            partition_by=delta_partition_by(BRONZE_EH_STREAMING),
        )
        inserted += metrics.get("num_target_rows_inserted", 0)
        # One range is committed, the next is not: the sensor asks again for what is missing.
        crash_point("streaming.after_range")
    # What the hub can no longer give (expired before bronze read it) is said, never skipped.
    report = reconcile(snapshot.bounds, held_intervals(lakehouse, snapshot.source_id), {})
    expired = {r.partition_id: r.expired for r in report}
    if any(expired.values()):
        warn(f"expired before ingestion, per partition: {expired}")
    return received, inserted, expired


@dataclass(frozen=True)
class Parsed:
    """What a bronze.reviews_streaming step did."""

    pending: int
    parsed: int
    quarantined: int


def parse_pending_events(lakehouse: Lakehouse, event_source: EventSource) -> Parsed:
    """Parse the events of bronze.eh_streaming neither parsed nor quarantined yet: reviews to
    bronze.reviews_streaming, the rest to its quarantine."""
    migrate_to_source_ids(lakehouse, BRONZE_REVIEWS_STREAMING, event_source)
    pending = pending_events(
        lakehouse,
        (BRONZE_EH_STREAMING, EH_STREAMING_SCHEMA),
        [
            event_keys(lakehouse, BRONZE_REVIEWS_STREAMING),
            quarantined_event_keys(lakehouse, BRONZE_STREAM_QUARANTINE, STREAM_DATASET),
        ],
    )
    parsed, quarantine = parse_events(pending)
    lakehouse.merge(BRONZE_REVIEWS_STREAMING, parsed, keys=EVENT_KEY, insert_only=True)
    now = datetime.now(UTC)
    ensure_table(lakehouse, BRONZE_STREAM_QUARANTINE, BRONZE_QUARANTINE_SCHEMA)
    if quarantine.height:
        lakehouse.merge(
            BRONZE_STREAM_QUARANTINE,
            quarantine.select(
                pl.lit(STREAM_DATASET).alias("dataset"),
                "_partition",
                "_source_file",
                "_line",
                "raw",
                "reason",
                pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("_ingested_at"),
            ),
            keys=["dataset", "_source_file", "_line"],
            insert_only=True,
        )
    return Parsed(pending.height, parsed.height, quarantine.height)


@dataclass(frozen=True)
class Decided:
    """What a silver.reviews_streaming step did."""

    pending: int
    typed: int
    inserted: int
    updated: int
    quarantined: int
    decided: int


def decide_pending_reviews(lakehouse: Lakehouse) -> Decided:
    """Type, deduplicate and MERGE the stream reviews silver has not decided yet, quarantine
    the contract violations, and record every decision last."""
    pending = pending_events(
        lakehouse,
        (BRONZE_REVIEWS_STREAMING, REVIEWS_STREAMING_SCHEMA),
        [event_keys(lakehouse, SILVER_STREAM_DECIDED)],
    )
    now = datetime.now(UTC)
    silver, quarantine = split_stream_reviews(pending, now)
    winners = dedupe_stream_reviews(silver)
    metrics = lakehouse.merge(
        SILVER_REVIEWS_STREAMING, winners, keys=["review_id"], update_when=EARLIEST_ENQUEUED_WINS
    )
    ensure_table(lakehouse, SILVER_STREAM_QUARANTINE, arrow_schema(SILVER_QUARANTINE_SCHEMA))
    if quarantine.height:
        lakehouse.merge(
            SILVER_STREAM_QUARANTINE,
            quarantine.select(pl.lit(SILVER_STREAM_DATASET).alias("dataset"), pl.all()),
            keys=["dataset", "_source_file", "_line"],
            insert_only=True,
        )
    # Recorded last: a crash before this line only makes the next run decide these again
    # (the MERGEs above are idempotent), never skips one.
    kept = lakehouse.read(
        SILVER_REVIEWS_STREAMING,
        columns=["_source_file", "_line"],
        where=pl.col("review_id").is_in(winners["review_id"].implode()),
    )
    decided = decisions(pending, kept, quarantine, now)
    lakehouse.merge(SILVER_STREAM_DECIDED, decided, keys=EVENT_KEY, insert_only=True)
    return Decided(
        pending=pending.height,
        typed=silver.height,
        inserted=metrics.get("num_target_rows_inserted", 0),
        updated=metrics.get("num_target_rows_updated", 0),
        quarantined=quarantine.height,
        decided=decided.height,
    )
