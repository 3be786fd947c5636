"""Arrow tables built from Python values without pyarrow's Python-object conversion.

`pa.array`, `pa.scalar`, `pa.Table.from_pylist` and `Schema.empty_table` import pandas the first
time they run (pyarrow checks every Python value for a pandas type): 0.2-0.3 CPU-s in each run
worker and bronze parse worker that would not otherwise load it. Polars builds the same columns
from Python lists about four times faster than `pa.array` (measured on 300,000 review texts:
0.03 against 0.11 CPU-s warm) and never imports pandas, so every table paisa builds from Python
values goes through here.

This module imports only pyarrow and Polars: bronze's parse workers import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa


def empty_table(schema: pa.Schema) -> pa.Table:
    """`schema.empty_table()`, without importing pandas."""
    return pa.Table.from_batches([], schema=schema)


def as_table(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    """The frame as Arrow in exactly `schema` (Polars exports large strings; tables here are
    plain strings)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.oldest()).cast(schema)


def table_from_columns(columns: Mapping[str, Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """A table of `schema` from one Python list per column (every column of the schema)."""
    if not any(len(values) for values in columns.values()):
        return empty_table(schema)
    frame = pl.DataFrame(
        {name: columns[name] for name in schema.names}, schema=pl.Schema(schema), strict=True
    )
    return as_table(frame, schema)


def table_from_rows(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """A table of `schema` from Python dicts (`pa.Table.from_pylist` without pandas)."""
    if not rows:
        return empty_table(schema)
    return as_table(pl.DataFrame(rows, schema=pl.Schema(schema), orient="row"), schema)


def constant_column(value: Any, dtype: pa.DataType, length: int) -> pa.Array:
    """`length` copies of `value` as an Arrow array of `dtype` (a `pa.repeat` of a scalar)."""
    polars_type = pl.Schema(pa.schema([("v", dtype)]))["v"]
    series = pl.select(pl.repeat(value, length, dtype=polars_type)).to_series()
    return series.to_arrow(compat_level=pl.CompatLevel.oldest()).cast(dtype)
