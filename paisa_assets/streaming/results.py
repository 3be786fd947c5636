"""What each stream asset reports to Dagster after its step (`streaming.steps`): the same
`rows_*` counts and table metadata every table reports (`materialization_metadata`)."""

from collections.abc import Iterator

from dagster import MaterializeResult, MetadataValue

from paisa_assets.events import SequenceRange, SourceSnapshot
from paisa_assets.materialization_metadata import table_metadata, table_results
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.streaming.steps import Decided, Parsed
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_REVIEWS_STREAMING,
    BRONZE_STREAM_QUARANTINE,
    SILVER_REVIEWS_STREAMING,
    SILVER_STREAM_DECIDED,
    SILVER_STREAM_QUARANTINE,
)


def fetched_result(
    lakehouse: Lakehouse,
    event_source: EventSource,
    snapshot: SourceSnapshot,
    ranges: list[SequenceRange],
    fetched: tuple[int, int, dict[str, int]],
) -> MaterializeResult:
    """bronze.eh_streaming after `steps.ingest_ranges` returned `fetched` (events received,
    rows inserted, events expired per partition): a duplicate delivery is received, not
    inserted."""
    received, inserted, expired = fetched
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


def parsed_results(lakehouse: Lakehouse, done: Parsed) -> Iterator[MaterializeResult]:
    """bronze.reviews_streaming and its quarantine: every pending event lands in one of them."""
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


def decided_results(lakehouse: Lakehouse, done: Decided) -> Iterator[MaterializeResult]:
    """silver.reviews_streaming, its quarantine and its decisions: a typed review neither
    inserted nor updated lost to an earlier copy (a duplicate)."""
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
