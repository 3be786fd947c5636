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
from paisa_assets.transforms.rowwise import where

_ARRAY_START = r"^[ \t\n\r]*\["
# Checked on `strip_html` output, whose whitespace is already single spaces; matching rows are
# then cut at the first " in " instead of capturing groups, which is several times faster.
_RANK = r"^>? ?#? ?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+) in "
# The link text Amazon appends ("(See Top 100 in Books)"), or just its opening "(" when the
# scraper cut the link off.
_SEE_TOP_SUFFIX = r"(?i) ?\( ?(?:See top\b[^)]*\)?)?$"


def first_rank_text(raw: pl.Series) -> pl.Series:
    """The rank string itself, or the first element of a JSON array of them, as plain text."""
    raw = raw.cast(pl.String)
    is_array = raw.str.contains(_ARRAY_START).fill_null(False)
    first = decode_string_array(where(is_array, raw)).value.list.first()
    return strip_html(pl.select(pl.when(is_array).then(first).otherwise(raw)).to_series())


def parse_ranks(raw: pl.Series) -> pl.DataFrame:
    """rank (Int64) and rank_category (String) from raw rank text; null when not a rank."""
    text = first_rank_text(raw)
    parts = where(text.str.contains(_RANK), text).str.split_exact(" in ", 1).struct.unnest()
    number = parts.get_column("field_0").str.strip_chars_start("># ")
    category = parts.get_column("field_1").str.replace(_SEE_TOP_SUFFIX, "")
    return pl.DataFrame(
        {
            "rank": number.str.replace_all(",", "", literal=True).cast(pl.Int64, strict=False),
            "rank_category": where(category != "", category),
        }
    )
