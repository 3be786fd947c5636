"""What a silver multi-asset reports to Dagster after a MERGE over landing folders: each
folder's own figures, the run's totals, and the rows its quarantine received.

Kept apart from `assets/silver.py` so that the asset stays its specs and one loop over
`silver_merge.refresh_partitions`.
"""

from collections.abc import Iterator, Sequence

from dagster import AssetExecutionContext, MaterializeResult

from paisa_assets.materialization_metadata import (
    partitioned_result,
    rows_per_partition,
    table_metadata,
    table_results,
)
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.silver_merge import SilverOutcome, SilverSpec
from paisa_assets.tables import asset_key


def folder_counts(
    lakehouse: Lakehouse, spec: SilverSpec, partitions: list[str]
) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    """Each folder's rows in bronze, owned in silver and quarantined, as the tables hold them
    after the run; the rest of its bronze rows lost to copies elsewhere (duplicates)."""
    bronze = rows_per_partition(lakehouse, spec.bronze_table, partitions)
    quarantined = rows_per_partition(lakehouse, spec.quarantine_table, partitions)
    owned = rows_per_partition(lakehouse, spec.silver_table, partitions)
    per_partition = {}
    for partition in partitions:
        counts = {
            "in": bronze.get(partition, 0),
            "written": owned.get(partition, 0),
            "quarantined": quarantined.get(partition, 0),
        }
        counts["duplicates"] = counts["in"] - counts["written"] - counts["quarantined"]
        per_partition[partition] = (counts, {})
    return per_partition


def silver_results(
    context: AssetExecutionContext,
    lakehouse: Lakehouse,
    spec: SilverSpec,
    partitions: Sequence[str],
    total: SilverOutcome,
) -> Iterator[MaterializeResult]:
    """The silver table (per folder and in total), then its quarantine."""
    yield partitioned_result(
        context,
        lakehouse,
        spec.silver_table,
        folder_counts(lakehouse, spec, list(partitions)),
        table_metadata(
            lakehouse,
            spec.silver_table,
            {
                "in": total.bronze_rows,
                "written": total.owned_rows,
                "quarantined": total.quarantined,
                "duplicates": total.duplicates,
                "inserted": total.inserted,
                "updated": total.updated,
                "deleted": total.deleted,
                "promoted_from_other_folders": total.promoted,
            },
        ),
        asset_key=asset_key(spec.silver_table),
    )
    yield from table_results(lakehouse, {spec.quarantine_table: {"written": total.quarantined}})
