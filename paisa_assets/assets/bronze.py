"""Bronze assets: one per landing dataset, one landing folder per partition.

Each writes its dataset's bronze table, quarantine and manifest (see `bronze_ingest`).
"""

from collections.abc import Iterator, Sequence

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    DynamicPartitionsDefinition,
    MaterializeResult,
    multi_asset,
)

from paisa_assets.asset_specs import table_spec
from paisa_assets.bronze_ingest import (
    SIDE_TABLES,
    IngestOutcome,
    ingest_partitions,
)
from paisa_assets.bronze_results import bronze_results
from paisa_assets.partitions import metadata_partitions, reviews_partitions
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import (
    METADATA_DATASET,
    REVIEWS_DATASET,
    LandingZone,
)
from paisa_assets.tables import (
    BRONZE_METADATA,
    BRONZE_REVIEWS,
)
from paisa_assets.transforms.schemas import BRONZE_METADATA_COLUMNS, BRONZE_REVIEWS_COLUMNS


def build_bronze_asset(
    *,
    dataset: str,
    table: str,
    columns: Sequence[str],
    partitions_def: DynamicPartitionsDefinition,
):
    """One bronze asset per landing dataset; both share every line of ingestion code. It is
    the one writer of the dataset's bronze table, its quarantine and its manifest."""
    quarantine_table, manifest_table = SIDE_TABLES[dataset]

    @multi_asset(
        name=table.replace(".", "__"),
        pool=table,
        backfill_policy=BackfillPolicy.single_run(),
        specs=[
            table_spec(table, kinds={"delta", "polars"}, partitions_def=partitions_def),
            table_spec(quarantine_table, kinds={"delta"}, partitions_def=partitions_def),
            table_spec(manifest_table, kinds={"delta"}, partitions_def=partitions_def),
        ],
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
        context.log.info(
            f"{dataset} {partitions[0]}..{partitions[-1]} ({len(partitions)} folder(s)): "
            f"{total.files_ingested} file(s) ingested, {total.files_skipped} already ingested, "
            f"{total.rows_written} rows, {total.rows_quarantined} quarantined"
        )
        yield from bronze_results(
            context, lakehouse, landing_zone, table, SIDE_TABLES[dataset], per_partition, total
        )

    return _bronze


bronze_amazon_reviews = build_bronze_asset(
    dataset=REVIEWS_DATASET,
    table=BRONZE_REVIEWS,
    columns=BRONZE_REVIEWS_COLUMNS,
    partitions_def=reviews_partitions,
)
bronze_amazon_metadata = build_bronze_asset(
    dataset=METADATA_DATASET,
    table=BRONZE_METADATA,
    columns=BRONZE_METADATA_COLUMNS,
    partitions_def=metadata_partitions,
)
