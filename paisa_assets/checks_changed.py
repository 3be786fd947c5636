"""The blocking checks on what changed (see `check_scope`): queries over the rows of the Delta
files added and removed since the check last passed, plus what those rows must be compared
with (a key column of the rest of the table), never the whole of a wide table."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from paisa_assets.delta_changes import FileDiff, removed_rows_sql
from paisa_assets.delta_duckdb import parquet_view
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.sql_quoting import quote_ident, sql_string


def _files_view(
    lakehouse: Lakehouse, table: str, columns: Sequence[str], files: Sequence[str]
) -> str | None:
    dt = lakehouse.delta_table(table)
    return parquet_view(dt, columns, files=files) if dt is not None and files else None


def unique_keys_of_changes(
    lakehouse: Lakehouse, warehouse: Warehouse, table: str, keys: Sequence[str], diff: FileDiff
) -> tuple[int, int, int]:
    """(rows checked, null keys, duplicate rows) of the rows the table gained since the last
    pass: duplicates among them, and keys they share with the rest of the table (whose key
    columns alone are read)."""
    added = _files_view(lakehouse, table, keys, diff.added)
    if added is None:
        return 0, 0, 0
    dt = lakehouse.delta_table(table)
    assert dt is not None
    new = set(diff.added)
    rest = _files_view(lakehouse, table, keys, [f for f in dt.file_uris() if f not in new])
    nulls = " OR ".join(f"{quote_ident(k)} IS NULL" for k in keys)
    columns = ", ".join(quote_ident(k) for k in keys)
    on = " AND ".join(f"a.{quote_ident(k)} = r.{quote_ident(k)}" for k in keys)
    shared = f"(SELECT count(*) FROM added AS a SEMI JOIN rest AS r ON {on})" if rest else "0"
    with warehouse.engine() as con:
        con.execute(f"CREATE TEMP VIEW added AS {added}")
        if rest:
            con.execute(f"CREATE TEMP VIEW rest AS {rest}")
        rows, null_keys, duplicates = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {nulls}), "
            f"(SELECT count(*) - count(DISTINCT ({columns})) FROM added WHERE NOT ({nulls})) "
            f"+ {shared} FROM added"
        ).fetchall()[0]
    return int(rows), int(null_keys), int(duplicates)


def count_in_changes(
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    table: str,
    columns: Sequence[str],
    where: str,
    diff: FileDiff,
) -> int:
    """Rows the table gained since the last pass that match `where` (over `columns`)."""
    added = _files_view(lakehouse, table, columns, diff.added)
    if added is None:
        return 0
    with warehouse.engine() as con:
        return int(con.execute(f"SELECT count(*) FROM ({added}) WHERE {where}").fetchall()[0][0])


def changed_partitions(
    con: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse,
    diffs: dict[str, FileDiff],
    dataset_of: dict[str, str],
) -> list[str]:
    """The landing folders (`_partition`) of every row added or removed in these tables;
    rows of a table in `dataset_of` count only when their `dataset` is the one given."""
    parts = []
    for table, diff in diffs.items():
        dataset = dataset_of.get(table)
        columns = ["_partition", "dataset"] if dataset else ["_partition"]
        added = _files_view(lakehouse, table, columns, diff.added)
        for sql in (added, removed_rows_sql(diff, columns)):
            if sql is None:
                continue
            where = f" WHERE dataset = {sql_string(dataset)}" if dataset else ""
            parts.append(f"SELECT DISTINCT _partition FROM ({sql}){where}")
    if not parts:
        return []
    rows = con.execute(" UNION ".join(parts)).fetchall()
    return sorted(r[0] for r in rows if r[0] is not None)
