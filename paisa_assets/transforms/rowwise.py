"""Apply costly per-row work only to the rows that need it.

`pl.when(mask).then(f(col))` evaluates `f` on every row, and most metadata rows need no cleaning
at all (no tag, no entity, no stray whitespace). Gathering the few rows that do, transforming
them and scattering the results back keeps the cost proportional to the dirty rows, which is
what makes the Python fallbacks (html.unescape, JSON parsing of nested objects) affordable.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl


def where(mask: pl.Series, values: pl.Series) -> pl.Series:
    """`values` where `mask` is true, null elsewhere (a null mask counts as false)."""
    return pl.select(pl.when(mask).then(values)).to_series().alias(values.name)


def apply_where(
    values: pl.Series,
    mask: pl.Series,
    transform: Callable[[pl.Series], pl.Series],
    source: pl.Series | None = None,
) -> pl.Series:
    """`values`, with the rows where `mask` is true replaced by `transform` of those rows of
    `source` (by default `values` itself).

    `transform` must map a Series to one of the same length and of the dtype of `values`.
    """
    source = values if source is None else source
    indices = mask.fill_null(False).arg_true()
    if len(indices) == 0:
        return values
    if len(indices) == len(values):
        return transform(source).alias(values.name)
    changed = transform(source.gather(indices))
    result = values.clone()
    result.scatter(indices, changed)
    return result


def map_python(values: pl.Series, mask: pl.Series, function: Callable[[str], object]) -> pl.Series:
    """`function` (plain Python, one value at a time) on the non-null rows selected by `mask`."""

    def transform(subset: pl.Series) -> pl.Series:
        results = [None if value is None else function(value) for value in subset.to_list()]
        return pl.Series(subset.name, results, dtype=subset.dtype)

    return apply_where(values, mask, transform)


def spread(compact: pl.Series, present: pl.Series) -> pl.Series:
    """The rows of `compact` (one per true row of `present`, in order) at the true rows of
    `present`, null elsewhere: the inverse of `values.filter(present)`."""
    positions = pl.select(pl.when(present).then(present.cum_sum() - 1)).to_series()
    return compact.gather(positions)


def on_present_rows(
    values: pl.Series, decode: Callable[[pl.Series], tuple[pl.Series, pl.Series]]
) -> tuple[pl.Series, pl.Series]:
    """`decode` (a row-by-row (value, invalid) decoder) applied to the non-null rows only; a
    null row decodes to a null value, not invalid.

    Polars' regular expressions cost about as much on a null row as on a short text (~0.2 µs):
    a column that is mostly null (a review's image, vote or style) paid its decoder's regexes
    on every row.
    """
    present = values.is_not_null()
    if values.null_count() == 0:
        return decode(values)
    value, invalid = decode(values.filter(present))
    return spread(value, present), spread(invalid, present).fill_null(False)
