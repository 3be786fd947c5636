"""Parse the sales rank of the product metadata.

`rank` arrives as a string ("14,082,777 in Clothing, Shoes & Jewelry (", ">#2,090,306 in Books
(See Top 100 in Books)") or as the JSON text of an array of such strings, whose first element is
the product's top-level rank; later elements are sub-category ranks. The raw text stays in
`rank_raw`, so a value this parser does not understand becomes null rank fields, not an error.
"""

from __future__ import annotations

import polars as pl

from paisa_assets.transforms.html_text import strip_html
from paisa_assets.transforms.json_values import decode_string_array

_ARRAY_START = r"^[ \t\n\r]*\["
_RANK = r"^>?\s*#?\s*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)\s+in\s+(.*)$"
# The link text Amazon appends ("(See Top 100 in Books)"), or just its opening "(" when the
# scraper cut the link off.
_SEE_TOP_SUFFIX = r"(?i)\s*\(\s*(?:See\s+top\b[^)]*\)?)?\s*$"

RANK_COLUMNS = ("rank", "rank_category")


def _select(expr: pl.Expr) -> pl.Series:
    return pl.select(expr).to_series()


def first_rank_text(raw: pl.Series) -> pl.Series:
    """The rank string itself, or the first element of a JSON array of them, as plain text."""
    raw = raw.cast(pl.String)
    is_array = raw.str.contains(_ARRAY_START).fill_null(False)
    first = decode_string_array(_select(pl.when(is_array).then(raw))).value.list.first()
    return strip_html(_select(pl.when(is_array).then(first).otherwise(raw)))


def parse_ranks(raw: pl.Series) -> pl.DataFrame:
    """rank (Int64) and rank_category (String) from raw rank text; null when not a rank."""
    groups = first_rank_text(raw).str.extract_groups(_RANK)
    rank = groups.struct.field("1").str.replace_all(",", "", literal=True)
    category = groups.struct.field("2").str.replace(_SEE_TOP_SUFFIX, "").str.strip_chars()
    return pl.DataFrame(
        {
            "rank": rank.cast(pl.Int64, strict=False),
            "rank_category": _select(pl.when(category != "").then(category)),
        }
    )
