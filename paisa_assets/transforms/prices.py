"""Parse the free-text `price` of the product metadata.

Real values are "$9.99", "$9.99 - $12.50", "$1,299.00", "" and scraped junk (CSS, HTML, words).
Decisions on the odd cases (all pinned by tests):

- null, "" or whitespace only: no price, and *not* invalid (the product simply has no price).
- "$0.00": a valid price of 0.0 (Amazon lists free items at $0.00); only the text is judged.
- "9.99" (no "$"): accepted as 9.99; a bare number is unambiguous. Each side of a range may
  independently omit the "$".
- "$5." and "$.99" are 5.0 and 0.99; whitespace around the text or after "$" is ignored.
- Thousands separators must group exactly three digits: "$1,299.00" -> 1299.0, "$1,29.00" is
  invalid.
- A range is "A - B" ("-", "–" or "—", spaces optional); price is its midpoint, rounded to 6
  decimals to drop binary noise ((9.99 + 12.5) / 2 is 11.245000000000001 in floating point).
  A reversed range ("$12.50 - $9.99") is accepted with min/max ordered by value.
- Other currencies ("£9.99", "EUR 9"), negative amounts, more than two amounts, or any extra
  words: invalid. Without a currency the value could not be compared with the dollar prices.
"""

from __future__ import annotations

import polars as pl

_AMOUNT = r"\$?\s*((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)"
PRICE_PATTERN = rf"^\s*{_AMOUNT}\s*(?:[-–—]\s*{_AMOUNT}\s*)?$"
_MIDPOINT_DECIMALS = 6


def _amount(text: pl.Series) -> pl.Series:
    return text.str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)


def parse_prices(raw: pl.Series) -> pl.DataFrame:
    """price, price_min, price_max (Float64) and price_invalid (Boolean, never null).

    The amounts are materialised before the output columns are derived from them: eager Polars
    does not share a sub-expression between output columns, and the regex is the costly part.
    """
    raw = raw.cast(pl.String)
    groups = raw.str.extract_groups(PRICE_PATTERN).struct.unnest()
    amounts = pl.DataFrame(
        {
            "first": _amount(groups.get_column("1")),
            "second": _amount(groups.get_column("2")),
            "blank": raw.str.strip_chars().fill_null("") == "",
        }
    )
    low = pl.min_horizontal("first", "second")
    high = pl.max_horizontal("first", "second")
    return amounts.select(
        pl.when(pl.col("second").is_null())
        .then(pl.col("first"))
        .otherwise(((low + high) / 2).round(_MIDPOINT_DECIMALS))
        .alias("price"),
        low.alias("price_min"),
        high.alias("price_max"),
        (~pl.col("blank") & pl.col("first").is_null()).alias("price_invalid"),
    )
