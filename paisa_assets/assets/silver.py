"""Silver assets: one per landing dataset, one landing folder per partition; each writes its
silver table and its quarantine (MERGE in `silver_merge`, report in `silver_results`).
"""

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    DynamicPartitionsDefinition,
    MaterializeResult,
    multi_asset,
)

from paisa_assets.asset_specs import table_multi_asset
from paisa_assets.partitions import metadata_partitions, reviews_partitions
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.silver_merge import (
    METADATA,
    REVIEWS,
    SilverOutcome,
    SilverSpec,
    refresh_partitions,
)
from paisa_assets.silver_results import silver_results
from paisa_assets.tables import asset_key


def build_silver_asset(
    spec: SilverSpec, partitions_def: DynamicPartitionsDefinition
) -> AssetsDefinition:
    """The one writer of a silver table and of its quarantine."""

    @multi_asset(
        **table_multi_asset(
            spec.silver_table,
            deps=[asset_key(spec.bronze_table)],
            partitions_def=partitions_def,
        ),
        backfill_policy=BackfillPolicy.single_run(),
    )
    def _silver(
        context: AssetExecutionContext, lakehouse: Lakehouse
    ) -> Iterator[MaterializeResult]:
        total = SilverOutcome()
        for chunk, outcome in refresh_partitions(lakehouse, spec, context.partition_keys):
            context.log.info(f"{spec.silver_table} {chunk[0]}..{chunk[-1]}: {outcome}")
            total.add(outcome)
        yield from silver_results(context, lakehouse, spec, context.partition_keys, total)

    return _silver


silver_amazon_reviews = build_silver_asset(REVIEWS, reviews_partitions)
silver_amazon_metadata = build_silver_asset(METADATA, metadata_partitions)
