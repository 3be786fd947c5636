"""Parse the free-text `price` of the product metadata.

Real values are "$9.99", "$9.99 - $12.50", "$1,299.00", "" and scraped junk (CSS, HTML, words).
Decisions on the odd cases (all pinned by tests):

- null, "" or whitespace only: no price, and *not* invalid (the product simply has no price).
- "$0.00": a valid price of 0.0 (Amazon lists free items at $0.00); only the text is judged.
- "9.99" (no "$"): accepted as 9.99; a bare number is unambiguous. Each side of a range may
  independently omit the "$".
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

PRICE_COLUMNS = ("price", "price_min", "price_max", "price_invalid")


def _amount(groups: pl.Expr, index: int) -> pl.Expr:
    field = groups.struct.field(str(index))
    return field.str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)


def price_exprs(raw: pl.Expr) -> list[pl.Expr]:
    """Expressions for price, price_min, price_max and price_invalid from price text."""
    groups = raw.str.extract_groups(PRICE_PATTERN)
    first, second = _amount(groups, 1), _amount(groups, 2)
    low = pl.min_horizontal(first, second)
    high = pl.max_horizontal(first, second)
    midpoint = ((low + high) / 2).round(_MIDPOINT_DECIMALS)
    blank = raw.str.strip_chars().fill_null("") == ""
    return [
        pl.when(second.is_null()).then(first).otherwise(midpoint).alias("price"),
        low.alias("price_min"),
        high.alias("price_max"),
        (~blank & first.is_null()).alias("price_invalid"),
    ]


def parse_prices(raw: pl.Series) -> pl.DataFrame:
    """price, price_min, price_max (Float64) and price_invalid (Boolean, never null)."""
    return pl.DataFrame({"raw": raw.cast(pl.String)}).select(price_exprs(pl.col("raw")))
