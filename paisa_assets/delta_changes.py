"""What changed in a Delta table between two versions, from its log alone.

The files a version holds and an older one did not (added), and the reverse (removed): their
rows are everything that changed, whatever the operations in between (appends, MERGEs that
rewrote files, overwrites). Incremental gold and the checks on changed data read only them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pyarrow as pa
from deltalake import DeltaTable

from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.sql_quoting import quote_ident, sql_string


@dataclass(frozen=True)
class FileDiff:
    """The files of a table's current version not in an older one (added), and the reverse."""

    table: str
    added: list[str]
    removed: list[str]
    added_rows: int
    removed_rows: int
    readable: bool  # every removed file is still on disk
    partition_columns: list[str] = field(default_factory=list)

    @property
    def changed_rows(self) -> int:
        return self.added_rows + self.removed_rows

    @property
    def empty(self) -> bool:
        return not self.added and not self.removed


def _files(dt: DeltaTable, root: str) -> dict[str, int]:
    # Read as a stream: `pa.table` of a foreign table imports pandas (0.3 CPU-s) to rule it out.
    actions = pa.RecordBatchReader.from_stream(dt.get_add_actions(flatten=True)).read_all()
    paths = actions.column("path").to_pylist()
    rows = actions.column("num_records").to_pylist()
    return {os.path.join(root, p): int(n or 0) for p, n in zip(paths, rows, strict=True)}


def row_count(lakehouse: Lakehouse, table: str) -> int:
    """Rows of the table's current version, from the log's file statistics (no file read)."""
    dt = lakehouse.delta_table(table)
    return sum(_files(dt, lakehouse.uri(table)).values()) if dt is not None else 0


def file_diff(lakehouse: Lakehouse, table: str, since: int | None) -> FileDiff:
    """What changed in `table` since version `since` (None: the table did not exist), from the
    Delta log alone. Unreadable when that version's log or files are gone (vacuumed)."""
    dt = lakehouse.delta_table(table)
    root = lakehouse.uri(table)
    now = _files(dt, root) if dt is not None else {}
    partitions = list(dt.metadata().partition_columns) if dt is not None else []
    before: dict[str, int] = {}
    readable = True
    if since is not None:
        try:
            before = _files(DeltaTable(root, version=since), root)
        except Exception:  # a log cleaned up or unreadable: rebuild instead
            readable = False
    added = [f for f in now if f not in before]
    removed = [f for f in before if f not in now]
    readable = readable and all(os.path.exists(f) for f in removed)
    return FileDiff(
        table,
        added,
        removed,
        sum(now[f] for f in added),
        sum(before[f] for f in removed),
        readable,
        partitions,
    )


def removed_rows_sql(diff: FileDiff, columns: list[str]) -> str | None:
    """SQL reading these columns of the files an older version held and the current one does
    not (still on disk: `FileDiff.readable`); None when no file was removed."""
    if not diff.removed:
        return None
    listing = ", ".join(sql_string(f) for f in diff.removed)
    hive = "true, hive_types_autocast = false" if diff.partition_columns else "false"
    return (
        f"SELECT {', '.join(quote_ident(c) for c in columns)} FROM read_parquet([{listing}], "
        f"union_by_name = true, hive_partitioning = {hive})"
    )
