"""Split typed rows into silver rows and quarantine rows by contract checks.

Each check is a boolean expression (true = violated) with the reason text it produces. All the
violations of a row are reported, in the order of the checks, so one trip to the quarantine table
shows everything wrong with a record instead of the first problem only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import polars as pl

from paisa_assets.transforms.schemas import QUARANTINE_SCHEMA

REASON_SEPARATOR = "; "
REASON_COLUMN = "__reason"
_RAW_PREFIX = "__raw_"
_FLAG_PREFIX = "__violated_"


class Check(NamedTuple):
    """A contract violation: `violated` is true for a bad row, `reason` is its (text) message."""

    violated: pl.Expr
    reason: pl.Expr


def check(violated: pl.Expr | pl.Series, reason: str) -> Check:
    """A check with a fixed reason text."""
    return Check(pl.lit(violated) if isinstance(violated, pl.Series) else violated, pl.lit(reason))


def check_with_value(violated: pl.Expr | pl.Series, reason: str, value: pl.Expr) -> Check:
    """A check whose reason quotes the offending raw value ("<reason>: <value>")."""
    flag = pl.lit(violated) if isinstance(violated, pl.Series) else violated
    return Check(flag, pl.concat_str(pl.lit(f"{reason}: "), value))


def reasons_column(frame: pl.DataFrame, checks: Sequence[Check]) -> pl.Series:
    """Each row's violations joined with "; ", or null when the row passes every check.

    The checks' flags are computed for every row, the reason texts only for the rows that
    violate one: composing ten reason strings (one per check, most of them null) for every row
    and joining them cost ~1.2 CPU-s per million reviews, for the few rows in a thousand that
    are quarantined.
    """
    flags = frame.select(
        *(c.violated.fill_null(False).alias(f"{_FLAG_PREFIX}{i}") for i, c in enumerate(checks))
    )
    reasons = pl.Series(REASON_COLUMN, [None] * frame.height, dtype=pl.String())
    bad = flags.select(pl.any_horizontal(pl.all())).to_series().arg_true()
    if len(bad) == 0:
        return reasons
    rows = pl.concat([frame[bad], flags[bad]], how="horizontal")
    parts = [pl.when(pl.col(f"{_FLAG_PREFIX}{i}")).then(c.reason) for i, c in enumerate(checks)]
    joined = pl.concat_str(parts, separator=REASON_SEPARATOR, ignore_nulls=True)
    reasons.scatter(bad, rows.select(pl.when(joined != "").then(joined)).to_series())
    return reasons


def is_blank(text: pl.Expr) -> pl.Expr:
    """Null, empty or whitespace only: never a usable key."""
    return text.str.strip_chars().fill_null("") == ""


def keep_raw(columns: Sequence[str]) -> list[pl.Expr]:
    """Copies of the bronze data columns, so typing can overwrite them while the quarantine
    record still shows the values exactly as they arrived (copies share memory in Polars)."""
    return [pl.col(name).alias(f"{_RAW_PREFIX}{name}") for name in columns]


def _raw_record(columns: Sequence[str]) -> pl.Expr:
    fields = [pl.col(f"{_RAW_PREFIX}{name}").alias(name) for name in columns]
    return pl.struct(fields).struct.json_encode()


def split_by_reason(
    checked: pl.DataFrame, silver: pl.Schema, record_columns: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows without a reason, in the `silver` schema; quarantine rows of the others).

    `checked` holds the typed columns, REASON_COLUMN and the `keep_raw` copies of
    `record_columns`; the quarantine `record` is their JSON object, built for bad rows only.
    """
    bad = checked.get_column(REASON_COLUMN).is_not_null()
    # Columns first: the filter then copies the silver columns only, not the raw copies.
    good = checked.select(silver.names()).filter(~bad).cast(dict(silver))  # type: ignore[arg-type]
    quarantine = (
        checked.filter(bad)
        .select(
            "_partition",
            "_source_file",
            "_line",
            pl.col(REASON_COLUMN).alias("reason"),
            _raw_record(record_columns).alias("record"),
        )
        .cast(dict(QUARANTINE_SCHEMA))  # type: ignore[arg-type]
    )
    return good, quarantine
