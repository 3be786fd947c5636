"""Gold builds: reader-facing tables built from silver with DuckDB.

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
)

from paisa_assets.check_scope import run_tag
from paisa_assets.gold_update import (
    EMPTY_SCHEMAS,
    INPUTS_KEY,
    REBUILD_TAG,
    expected_columns,
    plan_for,
    update_gold_table,
)
from paisa_assets.materialization_metadata import table_metadata
from paisa_assets.resources.lakehouse import Lakehouse, retry_on_conflict
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.tables import (
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_PRODUCT_SUMMARY,
    GOLD_REVIEWS_ENRICHED,
    SILVER_METADATA,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets.transforms import gold as sql


def input_versions(lakehouse: Lakehouse, inputs: dict[str, str]) -> dict[str, int | None]:
    return {table: lakehouse.data_version(table) for table in inputs.values()}


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
                build_reason=MetadataValue.text(plan.reason),
            )
        )

    return retry_on_conflict(attempt, f"{table} (build)")


ENRICHED_INPUT = {"reviews_enriched": GOLD_REVIEWS_ENRICHED}

GOLD_INPUTS = {
    "silver_reviews": SILVER_REVIEWS,
    "silver_metadata": SILVER_METADATA,
    "silver_reviews_streaming": SILVER_REVIEWS_STREAMING,
}

GoldQuery = Callable[[duckdb.DuckDBPyConnection], pa.RecordBatchReader]

# Each gold table's inputs ({relation name: table}) and the query that builds it from them.
GOLD_BUILDS: dict[str, tuple[dict[str, str], GoldQuery]] = {
    GOLD_REVIEWS_ENRICHED: (GOLD_INPUTS, sql.reviews_enriched),
    GOLD_PRODUCT_SUMMARY: (ENRICHED_INPUT, sql.product_summary),
    GOLD_CATEGORY_MONTHLY: (ENRICHED_INPUT, sql.category_monthly),
    GOLD_KPIS: (ENRICHED_INPUT, sql.kpis),
}
