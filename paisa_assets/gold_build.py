"""Gold rebuilds: reader-facing tables rebuilt from silver with DuckDB.

Gold tables are full rebuilds (price imputation needs every product's price), streamed from
DuckDB into Delta in bounded memory. Each rebuild records the Delta versions of its inputs in
its commit, so a run whose inputs have not changed writes nothing: re-running changes no table.
"""

from collections.abc import Callable

import duckdb
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from paisa_assets.materialization_metadata import table_metadata
from paisa_assets.resources.lakehouse import Lakehouse, retry_on_conflict
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.tables import (
    GOLD_REVIEWS_ENRICHED,
    SILVER_METADATA,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets.transforms.schemas import SILVER_METADATA_SCHEMA, SILVER_REVIEWS_SCHEMA
from paisa_assets.transforms.stream_reviews import SILVER_STREAM_SCHEMA

INPUTS_KEY = "paisa_inputs"
EMPTY_SCHEMAS = {
    SILVER_REVIEWS: SILVER_REVIEWS_SCHEMA,
    SILVER_METADATA: SILVER_METADATA_SCHEMA,
    SILVER_REVIEWS_STREAMING: SILVER_STREAM_SCHEMA,
}


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
        if recorded == versions and base is not None:
            context.log.info(f"{table}: inputs unchanged since the last build ({versions})")
            return MaterializeResult(
                metadata=table_metadata(
                    lakehouse, table, {"written": 0}, up_to_date=MetadataValue.bool(True)
                )
            )
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
            )
        )

    return retry_on_conflict(attempt, f"{table} (rebuild)")


ENRICHED_INPUT = {"reviews_enriched": GOLD_REVIEWS_ENRICHED}

GOLD_INPUTS = {
    "silver_reviews": SILVER_REVIEWS,
    "silver_metadata": SILVER_METADATA,
    "silver_reviews_streaming": SILVER_REVIEWS_STREAMING,
}
