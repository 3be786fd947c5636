"""Gold: reader-facing tables built from silver with DuckDB, and the warehouse file.

Each build records the Delta versions of its inputs in its commit, so a run whose inputs have
not changed writes nothing: re-running changes no table. Otherwise gold is updated in place for
what changed since those versions (`paisa_assets.gold_update`), or rebuilt in full, streamed
from DuckDB into Delta in bounded memory: on the first build, a schema change, when much
changed, and when a run asks for it (the `paisa/gold_rebuild: full` tag, which the periodic
reconciliation schedule sets). `transforms.gold_incremental.plan_gold_update` decides.
"""

from collections.abc import Callable

import duckdb
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from paisa_assets.assets.reporting import table_metadata
from paisa_assets.check_scope import run_tag
from paisa_assets.gold_update import (
    EMPTY_SCHEMAS,
    REBUILD_TAG,
    expected_columns,
    plan_for,
    update_gold_table,
)
from paisa_assets.resources.lakehouse import Lakehouse, retry_on_conflict
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.tables import (
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_PRODUCT_SUMMARY,
    GOLD_REVIEWS_ENRICHED,
    GOLD_TABLES,
    QUARANTINE_TABLES,
    SILVER_METADATA,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
    asset_key,
)
from paisa_assets.transforms import gold as sql

INPUTS_KEY = "paisa_inputs"


def input_versions(lakehouse: Lakehouse, inputs: dict[str, str]) -> dict[str, int | None]:
    return {table: lakehouse.version(table) for table in inputs.values()}


def rebuild_gold_table(
    context: AssetExecutionContext,
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    *,
    table: str,
    inputs: dict[str, str],
    query: Callable[[duckdb.DuckDBPyConnection], pa.RecordBatchReader],
) -> MaterializeResult:
    """Rebuild `table` from `inputs` ({relation name: table}) unless they are unchanged.

    Gold runs may overlap (the gold sensor's run, a streaming run's gold, a run by hand). Each
    rebuild commits against the gold version it started from, so a rebuild that another one
    overtook fails to commit and runs again: it then sees what the winner recorded and either
    finds gold up to date or rebuilds from newer silver. An older rebuild never lands on top
    of a newer one.
    """

    def attempt() -> MaterializeResult:
        base = lakehouse.delta_table(table)  # the version this rebuild replaces (read first)
        versions = input_versions(lakehouse, inputs)
        recorded = lakehouse.last_commit_metadata(table).get(INPUTS_KEY)
        plan, diffs = plan_for(
            lakehouse,
            table,
            recorded,
            versions,
            expected_columns(warehouse, table),
            rebuild_requested=run_tag(context, REBUILD_TAG) == "full",
        )
        context.log.info(f"{table}: {plan.mode} ({plan.reason})")
        if plan.mode == "up_to_date":
            return MaterializeResult(
                metadata=table_metadata(
                    lakehouse, table, {"written": 0}, up_to_date=MetadataValue.bool(True)
                )
            )
        if plan.mode == "update":
            commit = {INPUTS_KEY: versions}
            report = update_gold_table(lakehouse, warehouse, table, recorded, diffs, commit)
            if report is not None:
                return MaterializeResult(
                    metadata=table_metadata(
                        lakehouse,
                        table,
                        {"written": report.get("inserted", 0) + report.get("updated", 0)},
                        up_to_date=MetadataValue.bool(False),
                        inputs=MetadataValue.json(versions),
                        build=MetadataValue.text("update"),
                        changes=MetadataValue.json(report),
                    )
                )
            context.log.info(f"{table}: more changed than the plan saw, rebuilding instead")
        with warehouse.session(lakehouse, inputs, EMPTY_SCHEMAS) as con:
            lakehouse.replace(table, query(con), metadata={INPUTS_KEY: versions}, read_version=base)
        written = lakehouse.count(table)
        return MaterializeResult(
            metadata=table_metadata(
                lakehouse,
                table,
                {"written": written},
                up_to_date=MetadataValue.bool(False),
                inputs=MetadataValue.json(versions),
                build=MetadataValue.text("rebuild"),
            )
        )

    return retry_on_conflict(attempt, f"{table} (build)")


def build_gold_asset(
    table: str,
    *,
    inputs: dict[str, str],
    query: Callable[[duckdb.DuckDBPyConnection], pa.RecordBatchReader],
    description: str,
):
    @asset(
        key=asset_key(table),
        pool=table,
        deps=[asset_key(source) for source in inputs.values()],
        group_name="gold",
        description=description,
        kinds={"delta", "duckdb"},
        tags={"layer": "gold"},
    )
    def _gold(
        context: AssetExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
    ) -> MaterializeResult:
        return rebuild_gold_table(
            context, lakehouse, warehouse, table=table, inputs=inputs, query=query
        )

    return _gold


ENRICHED_INPUT = {"reviews_enriched": GOLD_REVIEWS_ENRICHED}

GOLD_INPUTS = {
    "silver_reviews": SILVER_REVIEWS,
    "silver_metadata": SILVER_METADATA,
    "silver_reviews_streaming": SILVER_REVIEWS_STREAMING,
}

gold_reviews_enriched = build_gold_asset(
    GOLD_REVIEWS_ENRICHED,
    inputs=GOLD_INPUTS,
    query=sql.reviews_enriched,
    description=(
        "One row per review (review_id), batch and stream (`source`), left-joined to product "
        "metadata (`has_metadata`). Renamed for readers: reviewer_id, reviewer_name, rating, "
        "review_text, votes. `price` is the listed price, else the mean price of the product's "
        "main category, else the global mean (`price_imputed`); `listed_price` is the raw one. "
        "Adds year, month, review_words and image_count."
    ),
)
gold_product_summary = build_gold_asset(
    GOLD_PRODUCT_SUMMARY,
    inputs=ENRICHED_INPUT,
    query=sql.product_summary,
    description="One row per reviewed product: reviews, average rating, verified share, price.",
)
gold_category_monthly = build_gold_asset(
    GOLD_CATEGORY_MONTHLY,
    inputs=ENRICHED_INPUT,
    query=sql.category_monthly,
    description="One row per main category (Unknown when absent), year and month.",
)
gold_kpis = build_gold_asset(
    GOLD_KPIS,
    inputs=ENRICHED_INPUT,
    query=sql.kpis,
    description="A single row: reviews, reviewers, products, average rating, batch/stream split.",
)


@asset(
    key=["warehouse", "duckdb"],
    pool="warehouse.duckdb",
    # After maintenance too: its views name a version's files, which vacuum may later delete.
    deps=[*(asset_key(table) for table in GOLD_TABLES), "lake_maintenance"],
    group_name="serving",
    description="The DuckDB file (default data/warehouse.duckdb) exposing every gold table as "
    '`gold.<name>` to any SQL client: `paisa sql "select * from gold.kpis"`, and the '
    "quarantine tables as `bronze.quarantine` and `silver.quarantine` (batch and stream rows, "
    "by `dataset`), as of this run.",
    kinds={"duckdb"},
)
def warehouse_views(
    context: AssetExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
) -> MaterializeResult:
    # The quarantine tables too (batch and stream rows alike, told apart by `dataset`), so
    # `paisa sql "select * from bronze.quarantine"` answers where users look.
    exposed = warehouse.publish(lakehouse, [*GOLD_TABLES, *QUARANTINE_TABLES])
    context.log.info(f"warehouse {warehouse.database_path()}: {exposed}")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(warehouse.database_path())),
            "objects": MetadataValue.json(exposed),
        }
    )
