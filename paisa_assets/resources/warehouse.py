"""DuckDB: the SQL engine for gold, and the warehouse file that exposes gold to SQL clients."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
from dagster import ConfigurableResource
from pydantic import Field

from paisa_assets.delta_duckdb import parquet_view, register_version
from paisa_assets.duckdb_engine import in_memory_connection
from paisa_assets.resources.lakehouse import Lakehouse


def register_delta(
    con: duckdb.DuckDBPyConnection,
    name: str,
    lakehouse: Lakehouse,
    table: str,
    columns: Sequence[str] | None = None,
) -> bool:
    """Expose the table's current version to `con` as `name`; False when it does not exist."""
    dt = lakehouse.delta_table(table)
    if dt is None:
        return False
    register_version(con, name, dt, local=lakehouse.is_local(), columns=columns)
    return True


class Warehouse(ConfigurableResource):
    """Where the DuckDB file lives and how much memory DuckDB may use before it spills."""

    path: str = Field(default="data/warehouse.duckdb", description="DuckDB database file.")
    memory_limit: str = Field(
        default="512MB",
        description="DuckDB memory_limit for gold queries and checks; beyond it DuckDB spills to "
        "disk. It bounds a step's memory whatever the lake's size (time barely changes).",
    )
    threads: int = Field(default=2, description="DuckDB worker threads.")
    lock_timeout_seconds: float = Field(
        default=300.0,
        description="How long publishing waits for another process to release the file.",
    )

    def database_path(self) -> Path:
        return Path(self.path).expanduser().absolute()

    def engine(self) -> duckdb.DuckDBPyConnection:
        """An in-memory connection for transformations: bounded memory, spills to a temp dir."""
        return in_memory_connection(
            threads=self.threads,
            memory_limit=self.memory_limit,
            temp_directory=f"{tempfile.gettempdir()}/paisa_duckdb_spill",
            preserve_insertion_order=False,
        )

    @contextmanager
    def session(
        self,
        lakehouse: Lakehouse,
        tables: Mapping[str, str],
        empty_when_missing: Mapping[str, pl.Schema] | None = None,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """An engine with each Delta table of `tables` ({relation name: table}) registered.

        A table that does not exist yet reads as empty when `empty_when_missing` gives its
        schema; otherwise its absence is an error that names it.
        """
        empty_when_missing = empty_when_missing or {}
        with self.engine() as con:
            for name, table in tables.items():
                if not register_delta(con, name, lakehouse, table):
                    if table not in empty_when_missing:
                        raise LookupError(f"{table} does not exist yet: materialize it first")
                    con.register(name, pl.DataFrame(schema=empty_when_missing[table]).to_arrow())
            yield con

    def _connect_exclusive(self, target: Path) -> duckdb.DuckDBPyConnection:
        """Open the file for writing, waiting while another process holds it.

        DuckDB lets one process at a time open a file for writing (a reader locks it too), and
        gold runs may overlap: without waiting, the second one to publish fails.
        """
        deadline = time.monotonic() + self.lock_timeout_seconds
        pause = 0.05
        while True:
            try:
                return duckdb.connect(str(target))
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
            time.sleep(random.uniform(pause / 2, pause))
            pause = min(pause * 2, 2.0)

    def publish(
        self,
        lakehouse: Lakehouse,
        tables: list[str],
        unions: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, str]:
        """Expose each Delta table in the warehouse file as `layer.name`, and each of `unions`
        ({view: tables}) as a view over those of its tables that exist.

        A local lake is exposed as views over the Parquet files of the table's current Delta
        version (no copy, readable by any DuckDB client with no extension); a remote lake is
        copied into tables, since DuckDB's Azure extension cannot be installed offline.
        Returns how each table was exposed.
        """
        target = self.database_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        exposed: dict[str, str] = {}
        with self._connect_exclusive(target) as con:
            for table in tables:
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.split(".")[0]}"')
                dt = lakehouse.delta_table(table)
                if dt is None:
                    continue
                qualified = _qualified(table)
                _drop(con, table)
                view = parquet_view(dt) if lakehouse.is_local() else None
                if view is not None:
                    con.execute(f"CREATE VIEW {qualified} AS {view}")
                    exposed[table] = "view"
                    continue
                con.register("_source", dt.to_pyarrow_dataset())
                con.execute(f"CREATE TABLE {qualified} AS SELECT * FROM _source")
                con.unregister("_source")
                exposed[table] = "table"
            for view, parts in (unions or {}).items():
                present = [part for part in parts if part in exposed]
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{view.split(".")[0]}"')
                _drop(con, view)
                if present:
                    selects = [f"SELECT * FROM {_qualified(part)}" for part in present]
                    union = " UNION ALL BY NAME ".join(selects)
                    con.execute(f"CREATE VIEW {_qualified(view)} AS {union}")
                    exposed[view] = "union of " + ", ".join(present)
        return exposed


def _qualified(table: str) -> str:
    layer, name = table.split(".")
    return f'"{layer}"."{name}"'


def _drop(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop the view or table `layer.name` if there is one (republishing replaces it)."""
    layer, name = table.split(".")
    existing = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = ?",
        [layer, name],
    ).fetchone()
    if existing:
        kind = "VIEW" if existing[0] == "VIEW" else "TABLE"
        con.execute(f"DROP {kind} {_qualified(table)}")
