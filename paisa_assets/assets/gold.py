"""Gold assets (built by `gold_build`: updated for what changed, or rebuilt) and the warehouse
file that exposes them to SQL."""

from collections.abc import Callable

import duckdb
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from paisa_assets.asset_specs import other_asset, table_asset
from paisa_assets.gold_build import (
    ENRICHED_INPUT,
    GOLD_INPUTS,
    rebuild_gold_table,
)
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.tables import (
    BRONZE_QUARANTINE,
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_PRODUCT_SUMMARY,
    GOLD_REVIEWS_ENRICHED,
    GOLD_TABLES,
    QUARANTINE_TABLES,
    SILVER_QUARANTINE,
    UNION_VIEWS,
    asset_key,
)
from paisa_assets.transforms import gold as sql


def build_gold_asset(
    table: str,
    *,
    inputs: dict[str, str],
    query: Callable[[duckdb.DuckDBPyConnection], pa.RecordBatchReader],
):
    @asset(
        **table_asset(
            table,
            deps=[asset_key(source) for source in inputs.values()],
            kinds={"delta", "duckdb"},
        )
    )
    def _gold(
        context: AssetExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
    ) -> MaterializeResult:
        return rebuild_gold_table(
            context, lakehouse, warehouse, table=table, inputs=inputs, query=query
        )

    return _gold


gold_reviews_enriched = build_gold_asset(
    GOLD_REVIEWS_ENRICHED,
    inputs=GOLD_INPUTS,
    query=sql.reviews_enriched,
)
gold_product_summary = build_gold_asset(
    GOLD_PRODUCT_SUMMARY,
    inputs=ENRICHED_INPUT,
    query=sql.product_summary,
)
gold_category_monthly = build_gold_asset(
    GOLD_CATEGORY_MONTHLY,
    inputs=ENRICHED_INPUT,
    query=sql.category_monthly,
)
gold_kpis = build_gold_asset(
    GOLD_KPIS,
    inputs=ENRICHED_INPUT,
    query=sql.kpis,
)


@asset(
    key=["warehouse", "duckdb"],
    pool="warehouse.duckdb",
    # After maintenance too: its views name a version's files, which vacuum may later delete.
    deps=[
        *(asset_key(table) for table in (*GOLD_TABLES, *QUARANTINE_TABLES)),
        "lake_maintenance",
    ],
    group_name="serving",
    **other_asset("warehouse/duckdb"),
    description="The DuckDB file (default data/warehouse.duckdb) exposing every gold table as "
    '`gold.<name>` to any SQL client: `paisa sql "select * from gold.kpis"`, and the '
    "quarantine tables, each on its own and all of a layer as the views `bronze.quarantine` and "
    "`silver.quarantine` (batch and stream rows, by `dataset`), as of this run.",
    kinds={"duckdb"},
)
def warehouse_views(
    context: AssetExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
) -> MaterializeResult:
    # The quarantine tables too, and a view over each layer's (batch and stream rows alike,
    # told apart by `dataset`), so `paisa sql "select * from bronze.quarantine"` answers.
    quarantine_views = {view: UNION_VIEWS[view] for view in (BRONZE_QUARANTINE, SILVER_QUARANTINE)}
    exposed = warehouse.publish(lakehouse, [*GOLD_TABLES, *QUARANTINE_TABLES], quarantine_views)
    context.log.info(f"warehouse {warehouse.database_path()}: {exposed}")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(warehouse.database_path())),
            "objects": MetadataValue.json(exposed),
        }
    )
