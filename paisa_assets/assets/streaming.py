"""Streaming: Event Hubs events -> bronze.eh_streaming -> bronze.reviews_streaming ->
silver.reviews_streaming, exactly once by construction.

Every event is identified by (partition id, sequence number) and every write is keyed by it
(or, in silver, by review_id), so a retried run, a reset sensor cursor, a crash between a write
and a cursor update, or a duplicate delivery changes nothing. Which events still need work is
read from the tables themselves, never from a cursor.
"""

from datetime import UTC, datetime

import polars as pl
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from paisa_assets.assets.bronze import QUARANTINE_SCHEMA as BRONZE_QUARANTINE_SCHEMA
from paisa_assets.assets.reporting import table_metadata
from paisa_assets.assets.silver import SILVER_QUARANTINE_SCHEMA
from paisa_assets.events import SequenceRange
from paisa_assets.faults import crash_point
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS_STREAMING,
    SILVER_QUARANTINE,
    SILVER_REVIEWS_STREAMING,
    asset_key,
)
from paisa_assets.transforms.stream_events import (
    EH_STREAMING_SCHEMA,
    REVIEWS_STREAMING_SCHEMA,
    events_to_rows,
    parse_events,
)
from paisa_assets.transforms.stream_reviews import (
    SILVER_STREAM_SCHEMA,
    dedupe_stream_reviews,
    split_stream_reviews,
)

EVENT_KEY = ["partition_id", "sequence_number"]
STREAM_DATASET = "eh_streaming"
SILVER_STREAM_DATASET = "reviews_streaming"
# The earliest enqueued copy of a review wins, then the lowest (partition, sequence number).
EARLIEST_ENQUEUED_WINS = (
    "s.enqueued_time < t.enqueued_time OR (s.enqueued_time = t.enqueued_time AND "
    "(s._source_file < t._source_file OR (s._source_file = t._source_file AND s._line < t._line)))"
)


class StreamRange(Config):
    partition_id: str
    first: int
    last: int


class StreamBatchConfig(Config):
    """Which events this run ingests; the sensor fills `ranges`. Left empty (a run launched by
    hand), the run takes what the tables do not hold yet, up to `max_events_per_partition`."""

    ranges: list[StreamRange] = Field(default_factory=list)
    max_events_per_partition: int = 10_000


def ingested_sequences(lakehouse: Lakehouse) -> pl.DataFrame:
    """Sequence numbers held in bronze.eh_streaming, per partition (the truth of progress)."""
    return lakehouse.read(BRONZE_EH_STREAMING, columns=EVENT_KEY, schema=EH_STREAMING_SCHEMA)


def next_ranges(
    held: pl.DataFrame, last: dict[str, int], limit: int, floor: dict[str, int] | None = None
) -> list[SequenceRange]:
    """For each partition, the next range to ingest: from the first sequence number bronze does
    not hold (a hole left by a failed run included) up to the last enqueued one, at most `limit`
    events. `floor` lifts the start past ranges already requested and still in flight."""
    ranges = []
    for partition_id, last_enqueued in sorted(last.items()):
        start = first_missing(held, partition_id)
        if floor and partition_id in floor:
            start = max(start, floor[partition_id] + 1)
        end = min(last_enqueued, start + limit - 1)
        if end >= start:
            ranges.append(SequenceRange(partition_id, start, end))
    return ranges


def first_missing(held: pl.DataFrame, partition_id: str) -> int:
    """The smallest sequence number after the first one held that is not held (or 0)."""
    sequences = held.filter(pl.col("partition_id") == partition_id)["sequence_number"].sort()
    if sequences.is_empty():
        return 0
    start = int(sequences[0])
    expected = pl.int_range(start, start + sequences.len(), eager=True)
    gaps = (sequences.cast(pl.Int64) != expected).arg_true()
    return int(expected[int(gaps[0])]) if gaps.len() else start + sequences.len()


@asset(
    key=asset_key(BRONZE_EH_STREAMING),
    pool=BRONZE_EH_STREAMING,
    group_name="bronze",
    description="One row per Event Hubs event: partition_id, sequence_number (the key), offset, "
    "enqueued_time, partition_key, properties (JSON), body as text, _ingested_at. MERGE on "
    "(partition_id, sequence_number): a repeated range or a duplicate delivery adds nothing.",
    kinds={"delta", "polars", "azure"},
    tags={"layer": "bronze"},
)
def bronze_eh_streaming(
    context: AssetExecutionContext,
    config: StreamBatchConfig,
    event_source: EventSource,
    lakehouse: Lakehouse,
) -> MaterializeResult:
    if config.ranges:
        ranges = [SequenceRange(r.partition_id, r.first, r.last) for r in config.ranges]
    else:
        ranges = next_ranges(
            ingested_sequences(lakehouse),
            event_source.last_sequence_numbers(),
            config.max_events_per_partition,
        )
    received = inserted = 0
    ingested_at = datetime.now(UTC)
    for wanted in ranges:
        events = event_source.read(wanted)
        received += len(events)
        if len(events) < wanted.size:
            context.log.warning(f"{wanted}: {len(events)} of {wanted.size} events received")
        rows = events_to_rows(events, ingested_at).unique(EVENT_KEY, keep="first")
        metrics = lakehouse.merge(
            BRONZE_EH_STREAMING,
            rows,
            keys=EVENT_KEY,
            insert_only=True,
            partition_by=["partition_id"],
        )
        inserted += metrics.get("num_target_rows_inserted", 0)
        # One range is committed, the next is not: the sensor asks again for what is missing.
        crash_point("streaming.after_range")
    return MaterializeResult(
        metadata=table_metadata(
            lakehouse,
            BRONZE_EH_STREAMING,
            {"in": received, "written": inserted, "duplicates": received - inserted},
            ranges=MetadataValue.json([vars(r) | {"size": r.size} for r in ranges]),
            event_source=MetadataValue.text(event_source.describe()),
        )
    )


def _stream_keys(lakehouse: Lakehouse, table: str) -> pl.LazyFrame:
    scan = lakehouse.scan(table)
    if scan is None:
        return pl.LazyFrame(schema={"partition_id": pl.String(), "sequence_number": pl.Int64()})
    return scan.select(EVENT_KEY)


def pending_events(
    lakehouse: Lakehouse,
    source: tuple[str, pl.Schema],
    target: str,
    quarantine: tuple[str, str],
) -> pl.DataFrame:
    """Rows of the `source` table whose event is neither in `target` nor quarantined (table,
    dataset) yet: the work of a streaming step, read from the tables rather than a cursor."""
    table, schema = source
    rows = lakehouse.scan(table)
    if rows is None:
        rows = pl.LazyFrame(schema=schema)
    done = pl.concat(
        [_stream_keys(lakehouse, target), quarantined_event_keys(lakehouse, *quarantine)]
    )
    return rows.join(done, on=EVENT_KEY, how="anti").collect()


@asset(
    key=asset_key(BRONZE_REVIEWS_STREAMING),
    pool=BRONZE_REVIEWS_STREAMING,
    deps=[asset_key(BRONZE_EH_STREAMING)],
    group_name="bronze",
    description="One row per event whose body is a JSON review with asin, reviewerID and overall: "
    "every value as sent (strings), internal_partition, partition_number, the event key and "
    "enqueued_time. Other events go to bronze.quarantine (dataset eh_streaming) with the reason.",
    kinds={"delta", "polars"},
    tags={"layer": "bronze"},
)
def bronze_reviews_streaming(
    context: AssetExecutionContext, event_source: EventSource, lakehouse: Lakehouse
) -> MaterializeResult:
    pending = pending_events(
        lakehouse,
        (BRONZE_EH_STREAMING, EH_STREAMING_SCHEMA),
        BRONZE_REVIEWS_STREAMING,
        (BRONZE_QUARANTINE, STREAM_DATASET),
    )
    parsed, quarantine = parse_events(pending, event_source.hub_name())
    lakehouse.merge(BRONZE_REVIEWS_STREAMING, parsed, keys=EVENT_KEY, insert_only=True)
    now = datetime.now(UTC)
    lakehouse.ensure(BRONZE_QUARANTINE, BRONZE_QUARANTINE_SCHEMA, partition_by=["dataset"])
    if quarantine.height:
        lakehouse.merge(
            BRONZE_QUARANTINE,
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
    context.log.info(
        f"{pending.height} new event(s): {parsed.height} parsed, {quarantine.height} quarantined"
    )
    return MaterializeResult(
        metadata=table_metadata(
            lakehouse,
            BRONZE_REVIEWS_STREAMING,
            {"in": pending.height, "written": parsed.height, "quarantined": quarantine.height},
        )
    )


@asset(
    key=asset_key(SILVER_REVIEWS_STREAMING),
    pool=SILVER_REVIEWS_STREAMING,
    deps=[asset_key(BRONZE_REVIEWS_STREAMING)],
    group_name="silver",
    description="One row per stream review (review_id), typed like silver.amazon_reviews; "
    "review_date is the enqueued day when the event has none; processed_at is when silver "
    "saw it. The earliest enqueued copy of a review wins; contract violations go to "
    "silver.quarantine (dataset reviews_streaming).",
    kinds={"delta", "polars"},
    tags={"layer": "silver"},
)
def silver_reviews_streaming(
    context: AssetExecutionContext, lakehouse: Lakehouse
) -> MaterializeResult:
    pending = pending_events(
        lakehouse,
        (BRONZE_REVIEWS_STREAMING, REVIEWS_STREAMING_SCHEMA),
        SILVER_REVIEWS_STREAMING,
        (SILVER_QUARANTINE, SILVER_STREAM_DATASET),
    )
    silver, quarantine = split_stream_reviews(pending, datetime.now(UTC))
    winners = dedupe_stream_reviews(silver)
    metrics = lakehouse.merge(
        SILVER_REVIEWS_STREAMING, winners, keys=["review_id"], update_when=EARLIEST_ENQUEUED_WINS
    )
    lakehouse.ensure(
        SILVER_QUARANTINE,
        pl.DataFrame(schema=SILVER_QUARANTINE_SCHEMA).to_arrow().schema,
        partition_by=["dataset"],
    )
    if quarantine.height:
        lakehouse.merge(
            SILVER_QUARANTINE,
            quarantine.select(pl.lit(SILVER_STREAM_DATASET).alias("dataset"), pl.all()),
            keys=["dataset", "_source_file", "_line"],
            insert_only=True,
        )
    inserted = metrics.get("num_target_rows_inserted", 0)
    updated = metrics.get("num_target_rows_updated", 0)
    return MaterializeResult(
        metadata=table_metadata(
            lakehouse,
            SILVER_REVIEWS_STREAMING,
            {
                "in": pending.height,
                "written": inserted + updated,
                "quarantined": quarantine.height,
                "duplicates": silver.height - inserted - updated,
            },
        )
    )


def quarantined_event_keys(lakehouse: Lakehouse, table: str, dataset: str) -> pl.LazyFrame:
    """Keys of quarantined events: in quarantine tables `_partition` and `_line` hold them."""
    scan = lakehouse.scan(table)
    if scan is None:
        return pl.LazyFrame(schema={"partition_id": pl.String(), "sequence_number": pl.Int64()})
    return scan.filter(pl.col("dataset") == dataset).select(
        pl.col("_partition").alias("partition_id"), pl.col("_line").alias("sequence_number")
    )


__all__ = [
    "SILVER_STREAM_SCHEMA",
    "StreamBatchConfig",
    "bronze_eh_streaming",
    "bronze_reviews_streaming",
    "next_ranges",
    "silver_reviews_streaming",
]
