"""What a bronze multi-asset reports to Dagster after an ingestion: each landing folder's own
figures, the table's totals, and the rows its quarantine and manifest received.

Kept apart from `assets/bronze.py` so that the asset stays its specs and one call to
`bronze_ingest.ingest_partitions`.
"""

from collections.abc import Iterator, Sequence

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue

from paisa_assets.bronze_ingest import IngestOutcome
from paisa_assets.materialization_metadata import (
    partitioned_result,
    table_metadata,
    table_results,
)
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import LandingZone
from paisa_assets.tables import asset_key


def row_counts(outcome: IngestOutcome) -> dict[str, int]:
    """Rows in (every parsed row), written to bronze and quarantined: in = written + quarantined."""
    return {
        "in": outcome.rows_written + outcome.rows_quarantined,
        "written": outcome.rows_written,
        "quarantined": outcome.rows_quarantined,
    }


def file_counts(outcome: IngestOutcome) -> dict[str, int]:
    """Files seen in the landing folder(s), ingested now, skipped as already in the manifest,
    and listed by the manifest but gone from the landing zone."""
    return {
        "files_seen": outcome.files_seen,
        "files_ingested": outcome.files_ingested,
        "files_skipped_already_ingested": outcome.files_skipped,
        "files_missing_from_landing": outcome.files_missing_from_landing,
    }


def ingest_summary(dataset: str, partitions: Sequence[str], total: IngestOutcome) -> str:
    """One log line for a run over landing folders."""
    return (
        f"{dataset} {partitions[0]}..{partitions[-1]} ({len(partitions)} folder(s)): "
        f"{total.files_ingested} file(s) ingested, {total.files_skipped} already ingested, "
        f"{total.rows_written} rows, {total.rows_quarantined} quarantined"
    )


def bronze_results(
    context: AssetExecutionContext,
    lakehouse: Lakehouse,
    landing_zone: LandingZone,
    table: str,
    side_tables: tuple[str, str],
    per_partition: dict[str, IngestOutcome],
    total: IngestOutcome,
) -> Iterator[MaterializeResult]:
    """The bronze table (per folder and in total), then its quarantine and manifest tables."""
    quarantine_table, manifest_table = side_tables
    yield partitioned_result(
        context,
        lakehouse,
        table,
        {
            partition: (row_counts(outcome), file_counts(outcome))
            for partition, outcome in per_partition.items()
        },
        table_metadata(
            lakehouse,
            table,
            row_counts(total),
            **{name: MetadataValue.int(n) for name, n in file_counts(total).items()},
            landing_zone=MetadataValue.text(landing_zone.describe()),
        ),
        asset_key=asset_key(table),
    )
    yield from table_results(
        lakehouse,
        {
            quarantine_table: {"written": total.rows_quarantined},
            manifest_table: {"written": total.files_ingested},
        },
    )
