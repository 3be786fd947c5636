"""Streaming: Event Hubs events -> bronze.eh_streaming -> bronze.reviews_streaming ->
silver.reviews_streaming, exactly once by construction.

Every event is identified by (source id, partition id, sequence number): the source id names
the hub (namespace, name and creation time, or the local log's own id), so switching sources or
recreating a hub never makes a new event look like one already held. Every write is keyed by it
(or, in silver, by review_id), so a retried run, a reset sensor cursor, a crash between a write
and a cursor update, or a duplicate delivery changes nothing. Which events still need work is
read from the tables themselves, never from a cursor.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from paisa_assets.asset_specs import table_asset, table_spec
from paisa_assets.bronze_ingest import QUARANTINE_SCHEMA as BRONZE_QUARANTINE_SCHEMA
from paisa_assets.events import SequenceRange
from paisa_assets.faults import crash_point
from paisa_assets.lake_views import arrow_schema, ensure_table
from paisa_assets.materialization_metadata import table_metadata
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.silver_merge import SILVER_QUARANTINE_SCHEMA
from paisa_assets.streaming.ingest import migrate_to_source_ids, read_ranges
from paisa_assets.streaming.plan import reconcile
from paisa_assets.streaming.progress import held_intervals
from paisa_assets.streaming.runs import tag_extra_ranges
from paisa_assets.streaming.work import (
    EARLIEST_ENQUEUED_WINS,
    SILVER_STREAM_DATASET,
    STREAM_DATASET,
    StreamBatchConfig,
    event_keys,
    newer_ranges,
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
    asset_key,
)
from paisa_assets.transforms.stream_events import (
    EH_STREAMING_SCHEMA,
    EVENT_KEY,
    REVIEWS_STREAMING_SCHEMA,
    events_to_rows,
    parse_events,
)
from paisa_assets.transforms.stream_reviews import (
    SILVER_STREAM_SCHEMA,
    decisions,
    dedupe_stream_reviews,
    split_stream_reviews,
)


@asset(**table_asset(BRONZE_EH_STREAMING, kinds={"delta", "polars", "azure"}))
def bronze_eh_streaming(
    context: AssetExecutionContext,
    config: StreamBatchConfig,
    event_source: EventSource,
    lakehouse: Lakehouse,
) -> MaterializeResult:
    snapshot = event_source.snapshot()
    migrate_to_source_ids(lakehouse, BRONZE_EH_STREAMING, snapshot.source_id)
    if config.source_id and config.source_id != snapshot.source_id:
        context.log.warning(
            f"planned for {config.source_id}, reading {snapshot.source_id}: the events are "
            "stored under the source they are read from"
        )
    ranges = [SequenceRange(r.partition_id, r.first, r.last) for r in config.ranges]
    extra = newer_ranges(context, config, snapshot, lakehouse, ranges)
    if extra:
        # Said before reading, so that the sensor counts them as in flight.
        tag_extra_ranges(context.instance, context.run_id, extra)
        context.log.info(f"also fetching {sum(r.size for r in extra)} event(s) newer than the plan")
    ranges = [*ranges, *extra]
    received = inserted = 0
    ingested_at = datetime.now(UTC)
    for wanted, events in zip(ranges, read_ranges(event_source, ranges), strict=True):
        received += len(events)
        if len(events) < wanted.size:
            context.log.warning(f"{wanted}: {len(events)} of {wanted.size} events received")
        rows = events_to_rows(events, ingested_at, snapshot.source_id).unique(
            EVENT_KEY, keep="first"
        )
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
    # What the hub can no longer give (expired before bronze read it) is said, never skipped.
    report = reconcile(snapshot.bounds, held_intervals(lakehouse, snapshot.source_id), {})
    expired = {r.partition_id: r.expired for r in report}
    if any(expired.values()):
        context.log.warning(f"expired before ingestion, per partition: {expired}")
    return MaterializeResult(
        metadata=table_metadata(
            lakehouse,
            BRONZE_EH_STREAMING,
            {"in": received, "written": inserted, "duplicates": received - inserted},
            ranges=MetadataValue.json([vars(r) | {"size": r.size} for r in ranges]),
            event_source=MetadataValue.text(event_source.describe()),
            source_id=MetadataValue.text(snapshot.source_id),
            expired_before_ingestion=MetadataValue.int(sum(expired.values())),
            expired_per_partition=MetadataValue.json(expired),
        )
    )


@multi_asset(
    name="bronze__reviews_streaming",
    pool=BRONZE_REVIEWS_STREAMING,
    specs=[
        table_spec(
            BRONZE_REVIEWS_STREAMING,
            deps=[asset_key(BRONZE_EH_STREAMING)],
            kinds={"delta", "polars"},
        ),
        table_spec(
            BRONZE_STREAM_QUARANTINE, deps=[asset_key(BRONZE_EH_STREAMING)], kinds={"delta"}
        ),
    ],
)
def bronze_reviews_streaming(
    context: AssetExecutionContext, event_source: EventSource, lakehouse: Lakehouse
) -> Iterator[MaterializeResult]:
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
    context.log.info(
        f"{pending.height} new event(s): {parsed.height} parsed, {quarantine.height} quarantined"
    )
    yield MaterializeResult(
        asset_key=asset_key(BRONZE_REVIEWS_STREAMING),
        metadata=table_metadata(
            lakehouse,
            BRONZE_REVIEWS_STREAMING,
            {"in": pending.height, "written": parsed.height, "quarantined": quarantine.height},
        ),
    )
    yield MaterializeResult(
        asset_key=asset_key(BRONZE_STREAM_QUARANTINE),
        metadata=table_metadata(
            lakehouse, BRONZE_STREAM_QUARANTINE, {"written": quarantine.height}
        ),
    )


@multi_asset(
    name="silver__reviews_streaming",
    pool=SILVER_REVIEWS_STREAMING,
    specs=[
        table_spec(table, deps=[asset_key(BRONZE_REVIEWS_STREAMING)], kinds=kinds)
        for table, kinds in (
            (SILVER_REVIEWS_STREAMING, {"delta", "polars"}),
            (SILVER_STREAM_QUARANTINE, {"delta"}),
            (SILVER_STREAM_DECIDED, {"delta"}),
        )
    ],
)
def silver_reviews_streaming(
    context: AssetExecutionContext, lakehouse: Lakehouse
) -> Iterator[MaterializeResult]:
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
    inserted = metrics.get("num_target_rows_inserted", 0)
    updated = metrics.get("num_target_rows_updated", 0)
    yield MaterializeResult(
        asset_key=asset_key(SILVER_REVIEWS_STREAMING),
        metadata=table_metadata(
            lakehouse,
            SILVER_REVIEWS_STREAMING,
            {
                "in": pending.height,
                "written": inserted + updated,
                "quarantined": quarantine.height,
                "duplicates": silver.height - inserted - updated,
            },
        ),
    )
    yield MaterializeResult(
        asset_key=asset_key(SILVER_STREAM_QUARANTINE),
        metadata=table_metadata(
            lakehouse, SILVER_STREAM_QUARANTINE, {"written": quarantine.height}
        ),
    )
    yield MaterializeResult(
        asset_key=asset_key(SILVER_STREAM_DECIDED),
        metadata=table_metadata(lakehouse, SILVER_STREAM_DECIDED, {"written": decided.height}),
    )


__all__ = [
    "SILVER_STREAM_SCHEMA",
    "StreamBatchConfig",
    "bronze_eh_streaming",
    "bronze_reviews_streaming",
    "silver_reviews_streaming",
]
