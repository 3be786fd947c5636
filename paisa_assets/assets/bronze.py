"""Bronze assets: one per landing dataset, one landing folder per partition.

Each writes its dataset's bronze table, quarantine and manifest (ingestion in `bronze_ingest`,
report in `bronze_results`).
"""

from collections.abc import Iterator, Sequence

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    DynamicPartitionsDefinition,
    MaterializeResult,
    multi_asset,
)

from paisa_assets.asset_specs import table_multi_asset
from paisa_assets.bronze_ingest import SIDE_TABLES, IngestOutcome, ingest_partitions
from paisa_assets.bronze_results import bronze_results, ingest_summary
from paisa_assets.partitions import metadata_partitions, reviews_partitions
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import METADATA_DATASET, REVIEWS_DATASET, LandingZone
from paisa_assets.tables import BRONZE_METADATA, BRONZE_REVIEWS
from paisa_assets.transforms.schemas import BRONZE_METADATA_COLUMNS, BRONZE_REVIEWS_COLUMNS


def build_bronze_asset(
    dataset: str, table: str, columns: Sequence[str], partitions_def: DynamicPartitionsDefinition
) -> AssetsDefinition:
    """The one writer of a dataset's bronze table, quarantine and manifest; both datasets share
    every line of ingestion code."""

    @multi_asset(
        **table_multi_asset(table, partitions_def=partitions_def),
        backfill_policy=BackfillPolicy.single_run(),
    )
    def _bronze(
        context: AssetExecutionContext, landing_zone: LandingZone, lakehouse: Lakehouse
    ) -> Iterator[MaterializeResult]:
        partitions = context.partition_keys
        per_partition: dict[str, IngestOutcome] = {}
        total = ingest_partitions(
            landing_zone,
            lakehouse,
            dataset=dataset,
            table=table,
            columns=columns,
            partitions=partitions,
            per_partition=per_partition,
        )
        context.log.info(ingest_summary(dataset, partitions, total))
        yield from bronze_results(
            context, lakehouse, landing_zone, table, SIDE_TABLES[dataset], per_partition, total
        )

    return _bronze


bronze_amazon_reviews = build_bronze_asset(
    REVIEWS_DATASET, BRONZE_REVIEWS, BRONZE_REVIEWS_COLUMNS, reviews_partitions
)
bronze_amazon_metadata = build_bronze_asset(
    METADATA_DATASET, BRONZE_METADATA, BRONZE_METADATA_COLUMNS, metadata_partitions
)
