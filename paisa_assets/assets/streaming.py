"""Streaming assets: Event Hubs events -> bronze.eh_streaming -> bronze.reviews_streaming ->
silver.reviews_streaming, each step's work in `streaming.steps` (exactly once, see there) and
what it reports in `streaming.results`."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, MaterializeResult, asset, multi_asset

from paisa_assets.asset_specs import table_asset, table_multi_asset
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.streaming.fetch import ranges_to_fetch
from paisa_assets.streaming.ingest import migrate_to_source_ids
from paisa_assets.streaming.results import decided_results, fetched_result, parsed_results
from paisa_assets.streaming.steps import decide_pending_reviews, ingest_ranges, parse_pending_events
from paisa_assets.streaming.work import StreamBatchConfig
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_REVIEWS_STREAMING,
    SILVER_REVIEWS_STREAMING,
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
    fetched = ingest_ranges(lakehouse, event_source, snapshot, ranges, context.log.warning)
    return fetched_result(lakehouse, event_source, snapshot, ranges, fetched)


@multi_asset(**table_multi_asset(BRONZE_REVIEWS_STREAMING, deps=[asset_key(BRONZE_EH_STREAMING)]))
def bronze_reviews_streaming(
    context: AssetExecutionContext, event_source: EventSource, lakehouse: Lakehouse
) -> Iterator[MaterializeResult]:
    done = parse_pending_events(lakehouse, event_source)
    context.log.info(
        f"{done.pending} new event(s): {done.parsed} parsed, {done.quarantined} quarantined"
    )
    yield from parsed_results(lakehouse, done)


@multi_asset(
    **table_multi_asset(SILVER_REVIEWS_STREAMING, deps=[asset_key(BRONZE_REVIEWS_STREAMING)])
)
def silver_reviews_streaming(
    context: AssetExecutionContext, lakehouse: Lakehouse
) -> Iterator[MaterializeResult]:
    yield from decided_results(lakehouse, decide_pending_reviews(lakehouse))
