"""Column contracts of the bronze, silver and quarantine frames (see docs/table_contracts.md).

The silver and quarantine frames are written to Delta tables, whose schema is fixed by the first
write: every transform therefore returns exactly these schemas, in this column order, even for an
empty input, so that a batch with no rows (or an all-null column) can never drift a table's types.
"""

from __future__ import annotations

import polars as pl

# Bronze data columns, in contract order. Every one is a String: the value as it arrived, or the
# JSON text of a non-string value.
BRONZE_REVIEWS_COLUMNS: tuple[str, ...] = (
    "asin",
    "reviewerID",
    "reviewerName",
    "overall",
    "reviewText",
    "summary",
    "unixReviewTime",
    "reviewTime",
    "verified",
    "vote",
    "style",
    "image",
)
BRONZE_METADATA_COLUMNS: tuple[str, ...] = (
    "asin",
    "title",
    "brand",
    "main_cat",
    "category",
    "price",
    "also_buy",
    "also_view",
    "rank",
    "description",
    "feature",
    "image",
    "details",
    "date",
    "similar_item",
    "tech1",
    "tech2",
    "fit",
)

# Columns every bronze row carries besides its data; silver rows carry them through unchanged so
# a silver row can always be traced back to its landing file and line.
LINEAGE_SCHEMA = pl.Schema(
    {
        "_rescued_data": pl.String(),
        "_partition": pl.String(),
        "_source_file": pl.String(),
        "_line": pl.Int64(),
        "_ingested_at": pl.Datetime("us", "UTC"),
    }
)


def _bronze_schema(columns: tuple[str, ...]) -> pl.Schema:
    return pl.Schema({**{name: pl.String() for name in columns}, **LINEAGE_SCHEMA})


BRONZE_REVIEWS_SCHEMA = _bronze_schema(BRONZE_REVIEWS_COLUMNS)
BRONZE_METADATA_SCHEMA = _bronze_schema(BRONZE_METADATA_COLUMNS)

_STRINGS = pl.List(pl.String())

SILVER_REVIEWS_SCHEMA = pl.Schema(
    {
        "review_id": pl.String(),
        "asin": pl.String(),
        "reviewerID": pl.String(),
        "reviewerName": pl.String(),
        "overall": pl.Int32(),
        "reviewText": pl.String(),
        "summary": pl.String(),
        "unixReviewTime": pl.Int64(),
        "reviewTime": pl.String(),
        "review_date": pl.Date(),
        "verified": pl.Boolean(),
        "vote": pl.Int64(),
        "style": pl.String(),
        "image": _STRINGS,
        **LINEAGE_SCHEMA,
        # review_id as an integer, for key lookups (`transforms.review_key`): last, where a
        # table written before it existed gains it in its migration.
        "_review_key": pl.Int64(),
    }
)

SILVER_METADATA_SCHEMA = pl.Schema(
    {
        "asin": pl.String(),
        "title": pl.String(),
        "brand": pl.String(),
        "main_cat": pl.String(),
        "category": _STRINGS,
        "price": pl.Float64(),
        "price_min": pl.Float64(),
        "price_max": pl.Float64(),
        "price_raw": pl.String(),
        "price_invalid": pl.Boolean(),
        "rank": pl.Int64(),
        "rank_category": pl.String(),
        "rank_raw": pl.String(),
        "also_buy": _STRINGS,
        "also_view": _STRINGS,
        "description": _STRINGS,
        "feature": _STRINGS,
        "image": _STRINGS,
        "details": pl.String(),
        "date": pl.String(),
        "similar_item": pl.String(),
        "tech1": pl.String(),
        "tech2": pl.String(),
        "fit": pl.String(),
        **LINEAGE_SCHEMA,
    }
)

QUARANTINE_SCHEMA = pl.Schema(
    {
        "_partition": pl.String(),
        "_source_file": pl.String(),
        "_line": pl.Int64(),
        "reason": pl.String(),
        "record": pl.String(),
    }
)


def conform_bronze(bronze: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """Select and cast the bronze columns a silver transform reads.

    Bronze read back from Delta may carry large strings, or a `Null` dtype when a test or an empty
    batch builds a column of nothing but nulls; casting once here lets every later expression rely
    on exact types. A missing column is a caller bug, so it fails loudly instead of becoming nulls.
    """
    missing = [name for name in schema.names() if name not in bronze.columns]
    if missing:
        raise ValueError(f"bronze frame lacks column(s): {', '.join(missing)}")
    return bronze.select(pl.col(name).cast(dtype) for name, dtype in schema.items())
