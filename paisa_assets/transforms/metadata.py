"""Type, clean and validate bronze product metadata into silver rows and quarantine rows.

Decisions beyond the contract text (docs/table_contracts.md):

- asin is trimmed, as in reviews, so both tables join on the same spelling.
- title and brand: `strip_html`. main_cat: `clean_main_cat`, falling back to the first category.
  category: its elements entity-decoded only (no tag stripping, no trimming). Other list fields
  are kept exactly as decoded.
- details: compact JSON text when it is a JSON object; any other value is kept as it arrived
  (the contract has no quarantine reason for it, and dropping it would lose data).
- date, similar_item, tech1, tech2 and fit stay raw: they are HTML fragments whose structure a
  consumer may still want.
- price and rank: see `prices` and `ranks`; unparseable values keep their text in price_raw /
  rank_raw and never quarantine the row.
"""

from __future__ import annotations

import polars as pl

from paisa_assets.transforms.dedupe import keep_by_position
from paisa_assets.transforms.html_text import clean_main_cat, strip_html, unescape_html_lists
from paisa_assets.transforms.json_values import decode_string_array, normalise_json_object
from paisa_assets.transforms.prices import parse_prices
from paisa_assets.transforms.quarantine import (
    check,
    is_blank,
    keep_raw,
    reasons_column,
    split_by_reason,
)
from paisa_assets.transforms.ranks import parse_ranks
from paisa_assets.transforms.schemas import (
    BRONZE_METADATA_COLUMNS,
    BRONZE_METADATA_SCHEMA,
    SILVER_METADATA_SCHEMA,
    conform_bronze,
)

# Fields the contract types as List[String], in contract order (the order of their reasons).
LIST_FIELDS: tuple[str, ...] = (
    "category",
    "also_buy",
    "also_view",
    "description",
    "feature",
    "image",
)


def _details(raw: pl.Series) -> pl.Series:
    """details as compact JSON when it is an object, else unchanged."""
    normalised = normalise_json_object(raw)
    return pl.select(pl.coalesce(normalised.value, raw)).to_series().alias(raw.name)


def _typed(bronze: pl.DataFrame) -> pl.DataFrame:
    """Bronze rows with every silver column typed and every contract check's reason."""
    lists = {name: decode_string_array(bronze.get_column(name)) for name in LIST_FIELDS}
    category = lists["category"].value
    checks = [
        check(is_blank(pl.col("asin")), "missing asin"),
        *(check(lists[name].invalid, f"{name} is not a JSON array of strings") for name in lists),
    ]
    return bronze.with_columns(
        *keep_raw(BRONZE_METADATA_COLUMNS),
        reasons_column(bronze, checks),
        pl.col("asin").str.strip_chars(),
        strip_html(bronze.get_column("title")),
        strip_html(bronze.get_column("brand")),
        clean_main_cat(bronze.get_column("main_cat"), category.list.first()),
        *(lists[name].value for name in LIST_FIELDS if name != "category"),
        unescape_html_lists(category).alias("category"),
        *parse_prices(bronze.get_column("price")),
        pl.col("price").alias("price_raw"),
        *parse_ranks(bronze.get_column("rank")),
        pl.col("rank").alias("rank_raw"),
        _details(bronze.get_column("details")),
    )


def split_metadata(bronze: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(silver metadata rows, quarantine rows) of a bronze metadata frame; no deduplication.

    Silver rows follow SILVER_METADATA_SCHEMA and quarantine rows QUARANTINE_SCHEMA exactly,
    whatever the input (including zero rows or all-null columns).
    """
    typed = _typed(conform_bronze(bronze, BRONZE_METADATA_SCHEMA))
    return split_by_reason(typed, SILVER_METADATA_SCHEMA, BRONZE_METADATA_COLUMNS)


def dedupe_metadata(metadata: pl.DataFrame) -> pl.DataFrame:
    """One row per asin: the latest copy, i.e. the one at the last position (landing folder in
    numeric order, file, line; see `dedupe`), the rule the silver MERGE applies across batches.
    A later folder holds a newer snapshot of the catalogue; when a copy was ingested, or in
    which run, never decides."""
    return keep_by_position(metadata, "asin", last=True)
