"""Streaming assets: Event Hubs events -> bronze.eh_streaming -> bronze.reviews_streaming ->
silver.reviews_streaming, each step's work in `streaming.steps` (exactly once, see there)."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset, multi_asset

from paisa_assets.asset_specs import table_asset, table_spec
from paisa_assets.materialization_metadata import table_metadata, table_results
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.streaming.fetch import ranges_to_fetch
from paisa_assets.streaming.ingest import migrate_to_source_ids
from paisa_assets.streaming.steps import decide_pending_reviews, ingest_ranges, parse_pending_events
from paisa_assets.streaming.work import StreamBatchConfig
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_REVIEWS_STREAMING,
    BRONZE_STREAM_QUARANTINE,
    SILVER_REVIEWS_STREAMING,
    SILVER_STREAM_DECIDED,
    SILVER_STREAM_QUARANTINE,
    asset_key,
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
    ranges = ranges_to_fetch(context, config, snapshot, lakehouse)
    received, inserted, expired = ingest_ranges(
        lakehouse, event_source, snapshot, ranges, context.log.warning
    )
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
        table_spec(table, deps=[asset_key(BRONZE_EH_STREAMING)], kinds=kinds)
        for table, kinds in (
            (BRONZE_REVIEWS_STREAMING, {"delta", "polars"}),
            (BRONZE_STREAM_QUARANTINE, {"delta"}),
        )
    ],
)
def bronze_reviews_streaming(
    context: AssetExecutionContext, event_source: EventSource, lakehouse: Lakehouse
) -> Iterator[MaterializeResult]:
    done = parse_pending_events(lakehouse, event_source)
    context.log.info(
        f"{done.pending} new event(s): {done.parsed} parsed, {done.quarantined} quarantined"
    )
    yield from table_results(
        lakehouse,
        {
            BRONZE_REVIEWS_STREAMING: {
                "in": done.pending,
                "written": done.parsed,
                "quarantined": done.quarantined,
            },
            BRONZE_STREAM_QUARANTINE: {"written": done.quarantined},
        },
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
    done = decide_pending_reviews(lakehouse)
    written = done.inserted + done.updated
    yield from table_results(
        lakehouse,
        {
            SILVER_REVIEWS_STREAMING: {
                "in": done.pending,
                "written": written,
                "quarantined": done.quarantined,
                "duplicates": done.typed - written,
            },
            SILVER_STREAM_QUARANTINE: {"written": done.quarantined},
            SILVER_STREAM_DECIDED: {"written": done.decided},
        },
    )
