"""Keep one row per key by a fixed ordering rule, as the silver Delta MERGE does.

The asset deduplicates inside a batch with these helpers and across batches in the MERGE; both
must pick the same winner, or the result would depend on how partitions were grouped into runs.

The rule is a total order on where a copy sits in the landing zone, its *position*: landing
folder, then file, then line, where each name compares by length first, then by its text
(`partition_2` before `partition_10`: numeric order for the usual `<prefix><number>` names, a
fixed order for any others). Nothing else enters it (not the ingestion time, not the run that
read it), so one landing zone gives one silver table however its folders were grouped into runs
and in whatever order they ran. `position_before` states the same order in SQL, for the MERGE.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

_ROW = "__row"
# The position of a copy: (folder, file, line), names compared by (length, text).
POSITION_COLUMNS = ("_partition", "_source_file", "_line")


def position_sort_keys() -> list[pl.Expr]:
    """Sort keys that order rows by position (see the module docstring)."""
    return [
        pl.col("_partition").str.len_chars().alias("__partition_length"),
        pl.col("_partition"),
        pl.col("_source_file").str.len_chars().alias("__file_length"),
        pl.col("_source_file"),
        pl.col("_line"),
    ]


def position_before(a: str, b: str) -> str:
    """SQL (DuckDB and DataFusion alike): the row aliased `a` sits before the row aliased `b`."""
    keys = [
        (f"character_length({a}._partition)", f"character_length({b}._partition)"),
        (f"{a}._partition", f"{b}._partition"),
        (f"character_length({a}._source_file)", f"character_length({b}._source_file)"),
        (f"{a}._source_file", f"{b}._source_file"),
        (f"{a}._line", f"{b}._line"),
    ]
    clause = f"{keys[-1][0]} < {keys[-1][1]}"
    for left, right in reversed(keys[:-1]):
        clause = f"{left} < {right} OR ({left} = {right} AND ({clause}))"
    return f"({clause})"


def keep_first_per_key(
    rows: pl.DataFrame, key: str, order_by: Sequence[str], *, descending: bool = False
) -> pl.DataFrame:
    """Per `key`, the row that sorts first by `order_by` (nulls last); input order is kept.

    Only the key and ordering columns are sorted, then the winners are gathered, so wide rows
    (review texts, lists) are not moved around during the sort.
    """
    return _keep_first(rows, key, [pl.col(c) for c in order_by], descending=descending)


def keep_by_position(rows: pl.DataFrame, key: str, *, last: bool = False) -> pl.DataFrame:
    """Per `key`, the copy at the first position (or the last, with `last`); input order kept."""
    return _keep_first(rows, key, position_sort_keys(), descending=last)


def _keep_first(
    rows: pl.DataFrame, key: str, order_by: list[pl.Expr], *, descending: bool
) -> pl.DataFrame:
    # Only the keys with several copies are sorted: a key with one copy is its own winner, and
    # a chunk of reviews holds ~1% duplicates (sorting every row cost ~0.35 CPU-s per million).
    duplicated = rows.get_column(key).is_duplicated()
    if not duplicated.any():
        return rows
    keys = (
        rows.with_row_index(_ROW)
        .filter(duplicated)
        .select(
            _ROW,
            pl.col(key).alias("__key"),
            *(e.alias(f"__by{i}") for i, e in enumerate(order_by)),
        )
    )
    by = [f"__by{i}" for i in range(len(order_by))]
    sorted_keys = keys.sort(by, descending=descending, nulls_last=True, maintain_order=True)
    chosen = sorted_keys.unique(subset="__key", keep="first", maintain_order=True).get_column(_ROW)
    keep = ~duplicated
    keep.scatter(chosen, True)
    return rows.filter(keep)
