"""What changed in a Delta table between two versions, from its log alone.

The files a version holds and an older one did not (added), and the reverse (removed): their
rows are everything that changed, whatever the operations in between (appends, MERGEs that
rewrote files, overwrites). Incremental gold and the checks on changed data read only them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import unquote

import orjson
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


def _add_actions(dt: DeltaTable) -> pa.Table:
    """The current version's files with their statistics and partition values, from the log."""
    # Read as a stream: `pa.table` of a foreign table imports pandas (0.3 CPU-s) to rule it out.
    return pa.RecordBatchReader.from_stream(dt.get_add_actions(flatten=True)).read_all()


def _files(dt: DeltaTable, root: str) -> dict[str, int]:
    actions = _add_actions(dt)
    paths = actions.column("path").to_pylist()
    rows = actions.column("num_records").to_pylist()
    return {_file(root, p): int(n or 0) for p, n in zip(paths, rows, strict=True)}


def _file(root: str, logged: str) -> str:
    """The file a log path names. The log percent-encodes the path, whose partition folder is
    itself percent-encoded on disk (`_partition=it%27s` is logged as `_partition=it%2527s`):
    taken as it is, a landing folder with such a character in its name made every diff of the
    table unreadable (its files "gone"), and checks and gold then read everything."""
    return os.path.join(root, unquote(logged))


def rows_by_partition_value(dt: DeltaTable, column: str) -> dict[str, int] | None:
    """Rows of each value of the partition column `column` in the table's current version, from
    the log's file statistics (no file read); None when the table is not partitioned by it or a
    file has no row count (written by a writer that records no statistics)."""
    if column not in dt.metadata().partition_columns:
        return None
    actions = _add_actions(dt)
    counts: dict[str, int] = {}
    values = actions.column(f"partition.{column}").to_pylist()
    rows = actions.column("num_records").to_pylist()
    for value, n in zip(values, rows, strict=True):
        if n is None:
            return None
        if n:
            counts[value] = counts.get(value, 0) + int(n)
    return counts


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
    if since is not None and dt is not None and readable and (added or removed):
        moved = _rearranged(root, since, dt.version(), before, now)
        if moved is not None:
            added = [f for f in added if f not in moved]
            removed = [f for f in removed if f not in moved]
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


def _rearranged(
    root: str, since: int, until: int, before: dict[str, int], now: dict[str, int]
) -> set[str] | None:
    """The files, among those added or removed between the two versions, whose rows did not
    change: what compactions (the maintenance's `OPTIMIZE`: `dataChange: false` actions only)
    wrote from rows of version `since`, and the files of `since` they read. Without this, a
    compacted table looked wholly changed to the first run after the daily maintenance: its
    checks on changes and gold's update read every compacted file (for an unpartitioned table,
    a full reconciliation of every landing folder once a day).

    A compaction that also read rows added since, or whose output a later change rewrote,
    moved rows that did change: its files stay in the diff (as removed and added rows, which
    readers of the diff handle). Read from the commits' JSON on a local lake; None (the plain
    file diff stands) when a commit is not there (a remote lake, a log cleaned up).
    """
    log = os.path.join(root, "_delta_log")
    # Each compaction's group: the files of `since` whose rows it (transitively) moved, and
    # the files holding them now; `group_of` maps a compacted file to its group.
    sources: list[set[str]] = []
    outputs: list[set[str]] = []
    changed: list[bool] = []
    group_of: dict[str, int] = {}
    untouched = set(before)  # files of `since` that no commit has read or removed yet
    for version in range(since + 1, until + 1):
        path = os.path.join(log, f"{version:020d}.json")
        if not os.path.exists(path):
            return None
        adds: list[str] = []
        removes: list[str] = []
        rearranging = True
        with open(path, "rb") as commit:
            for line in commit:
                action = orjson.loads(line)
                for kind, files in (("add", adds), ("remove", removes)):
                    if kind in action:
                        files.append(_file(root, action[kind]["path"]))
                        rearranging = rearranging and action[kind].get("dataChange") is False
        if not (rearranging and removes):
            for f in removes:  # a change: the rows it removed (or rewrote) did change
                if f in group_of:
                    changed[group_of.pop(f)] = True
                untouched.discard(f)
            continue
        group = len(sources)
        sources.append(set())
        outputs.append(set(adds))
        changed.append(False)
        for f in removes:
            if f in untouched:
                sources[group].add(f)
                untouched.discard(f)
            elif f in group_of:
                old = group_of.pop(f)
                sources[group] |= sources[old]
                changed[group] = changed[group] or changed[old]
                for other in outputs[old]:  # the old group lives on in this one
                    if group_of.get(other) == old:
                        group_of[other] = group
                        outputs[group].add(other)
            else:
                changed[group] = True  # it read rows added since `since`
        for f in adds:
            group_of[f] = group
    moved: set[str] = set()
    for group, was_changed in enumerate(changed):
        live = {f for f in outputs[group] if group_of.get(f) == group}
        if not was_changed and live:
            moved |= sources[group] | live
    return moved


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
