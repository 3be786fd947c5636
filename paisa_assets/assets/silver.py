"""Silver assets: one per landing dataset, one landing folder per partition; each writes its
silver table and its quarantine (see `silver_merge`).
"""

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    DynamicPartitionsDefinition,
    MaterializeResult,
    multi_asset,
)

from paisa_assets.asset_specs import table_spec
from paisa_assets.materialization_metadata import (
    partitioned_result,
    rows_per_partition,
    table_metadata,
    table_results,
)
from paisa_assets.partitions import metadata_partitions, reviews_partitions
from paisa_assets.resources.lakehouse import Lakehouse

# Partitions merged together in one MERGE: a backfill of thousands of folders then makes a few
# large commits instead of one per folder, while memory stays bounded by this many bronze rows.
from paisa_assets.silver_merge import (
    METADATA,
    REVIEWS,
    SilverOutcome,
    SilverSpec,
    refresh_partitions,
)
from paisa_assets.tables import (
    asset_key,
)


def build_silver_asset(spec: SilverSpec, partitions_def: DynamicPartitionsDefinition):
    """The one writer of a silver table and of its quarantine."""
    deps = [asset_key(spec.bronze_table)]

    @multi_asset(
        name=spec.silver_table.replace(".", "__"),
        pool=spec.silver_table,
        backfill_policy=BackfillPolicy.single_run(),
        specs=[
            table_spec(
                spec.silver_table,
                deps=deps,
                kinds={"delta", "polars"},
                partitions_def=partitions_def,
            ),
            table_spec(
                spec.quarantine_table, deps=deps, kinds={"delta"}, partitions_def=partitions_def
            ),
        ],
    )
    def _silver(
        context: AssetExecutionContext, lakehouse: Lakehouse
    ) -> Iterator[MaterializeResult]:
        total = SilverOutcome()
        for chunk, outcome in refresh_partitions(lakehouse, spec, context.partition_keys):
            context.log.info(f"{spec.silver_table} {chunk[0]}..{chunk[-1]}: {outcome}")
            total.add(outcome)
        partitions = list(context.partition_keys)
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
        yield partitioned_result(
            context,
            lakehouse,
            spec.silver_table,
            per_partition,
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

    return _silver


silver_amazon_reviews = build_silver_asset(REVIEWS, reviews_partitions)
silver_amazon_metadata = build_silver_asset(METADATA, metadata_partitions)
