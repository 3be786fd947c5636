"""Gold assets (built by `gold_build`: updated for what changed, or rebuilt) and the warehouse
file that exposes them to SQL (`warehouse_publish`)."""

from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, asset

from paisa_assets.asset_specs import other_asset, table_asset
from paisa_assets.gold_build import GOLD_BUILDS, rebuild_gold_table
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.tables import (
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_PRODUCT_SUMMARY,
    GOLD_REVIEWS_ENRICHED,
    asset_key,
)
from paisa_assets.warehouse_publish import PUBLISHED_TABLES, publish_warehouse


def build_gold_asset(table: str) -> AssetsDefinition:
    inputs, query = GOLD_BUILDS[table]
    deps = [asset_key(source) for source in inputs.values()]

    @asset(**table_asset(table, deps=deps, kinds={"delta", "duckdb"}))
    def _gold(
        context: AssetExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
    ) -> MaterializeResult:
        return rebuild_gold_table(
            context, lakehouse, warehouse, table=table, inputs=inputs, query=query
        )

    return _gold


gold_reviews_enriched = build_gold_asset(GOLD_REVIEWS_ENRICHED)
gold_product_summary = build_gold_asset(GOLD_PRODUCT_SUMMARY)
gold_category_monthly = build_gold_asset(GOLD_CATEGORY_MONTHLY)
gold_kpis = build_gold_asset(GOLD_KPIS)


@asset(
    key=["warehouse", "duckdb"],
    pool="warehouse.duckdb",
    # After maintenance too: its views name a version's files, which vacuum may later delete.
    deps=[*(asset_key(table) for table in PUBLISHED_TABLES), "lake_maintenance"],
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
    return publish_warehouse(context.log, lakehouse, warehouse)
