"""The lake as the dashboard reads it: the tables behind its queries and one DuckDB session
over them. Tables that do not exist yet (no stream, no model) read as empty, so the page can be
built at any point of the graph's life.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from paisa_assets.dashboard import queries
from paisa_assets.lake_views import scan_table
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse, register_delta
from paisa_assets.tables import UNION_VIEWS


def tables_of(relation: str) -> tuple[str, ...]:
    """The Delta tables behind a relation the queries read (a union view has several)."""
    return UNION_VIEWS.get(relation, (relation,))


# Every table the page reads (each relation of the queries, the tables it counts rows of).
DASHBOARD_INPUTS = tuple(
    dict.fromkeys(
        table
        for relation in (
            *(source.table for source in queries.SOURCES.values()),
            *queries.COUNTED_TABLES,
        )
        for table in tables_of(relation)
    )
)


@contextmanager
def dashboard_session(
    lakehouse: Lakehouse, warehouse: Warehouse
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB engine with every relation of `queries.SOURCES` registered, each projected to the
    columns the queries use (so no review text or event body is streamed for a count). A union
    view is registered over those of its tables that exist."""
    with warehouse.engine() as con:
        con.execute("SET TimeZone = 'UTC'")
        missing = []
        for name, source in queries.SOURCES.items():
            tables = tables_of(source.table)
            parts = []
            for index, table in enumerate(tables):
                part = name if len(tables) == 1 else f"{name}__{index}"
                if register_delta(con, part, lakehouse, table, source.schema.names()):
                    parts.append(part)
                elif (legacy := scan_table(lakehouse, table)) is not None:
                    # A lake from before the split: the table's slice of the old shared table.
                    con.register(part, legacy.select(source.schema.names()).collect().to_arrow())
                    parts.append(part)
            if not parts:
                missing.append(name)
            elif len(tables) > 1:
                union = " UNION ALL BY NAME ".join(f"SELECT * FROM {part}" for part in parts)
                con.execute(f"CREATE TEMP VIEW {name} AS {union}")
        queries.register(con, {}, only=missing)  # each missing table reads as empty
        yield con


def table_rows(lakehouse: Lakehouse) -> dict[str, int | None]:
    """Rows of the tables the duplicates panel reconciles, from Delta's file statistics."""
    return {
        table: lakehouse.count(table) if lakehouse.exists(table) else None
        for table in queries.COUNTED_TABLES
    }
