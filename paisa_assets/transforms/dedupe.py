"""Keep one row per key by a fixed ordering rule, as the silver Delta MERGE does.

The asset deduplicates inside a batch with these helpers and across batches in the MERGE; both
must pick the same winner, or the result would depend on how partitions were grouped into runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

_ROW = "__row"


def keep_first_per_key(
    rows: pl.DataFrame, key: str, order_by: Sequence[str], *, descending: bool = False
) -> pl.DataFrame:
    """Per `key`, the row that sorts first by `order_by` (nulls last); input order is kept.

    Only the key and ordering columns are sorted, then the winners are gathered, so wide rows
    (review texts, lists) are not moved around during the sort.
    """
    columns = [key, *order_by]
    winners = (
        rows.select(columns)
        .with_row_index(_ROW)
        .sort(list(order_by), descending=descending, nulls_last=True, maintain_order=True)
        .unique(subset=key, keep="first", maintain_order=True)
        .get_column(_ROW)
        .sort()
    )
    return rows[winners]
