"""Price text -> (price, price_min, price_max, price_invalid), every form and odd case pinned."""

from __future__ import annotations

import polars as pl
import pytest

from paisa_assets.transforms.prices import parse_prices

PRICE_SCHEMA = pl.Schema(
    {
        "price": pl.Float64(),
        "price_min": pl.Float64(),
        "price_max": pl.Float64(),
        "price_invalid": pl.Boolean(),
    }
)

NO_PRICE = (None, None, None, False)
JUNK = (None, None, None, True)

# raw -> (price, price_min, price_max, price_invalid)
PRICES: list[tuple[str | None, tuple[float | None, float | None, float | None, bool]]] = [
    # The forms seen in the real data.
    ("$9.99", (9.99, 9.99, 9.99, False)),
    ("$9.99 - $12.50", (11.245, 9.99, 12.5, False)),
    ("$1,299.00", (1299.0, 1299.0, 1299.0, False)),
    ("", NO_PRICE),
    (None, NO_PRICE),
    (".a-box-inner{background-color:#fff}", JUNK),
    ('<span class="a-color-price">$9.99</span>', JUNK),
    ("Currently unavailable.", JUNK),
    # Odd cases, decided in prices.py.
    ("   ", NO_PRICE),
    ("\t\n", NO_PRICE),
    ("$0.00", (0.0, 0.0, 0.0, False)),
    ("9.99", (9.99, 9.99, 9.99, False)),
    ("$1,299.00 - $1,599.00", (1449.0, 1299.0, 1599.0, False)),
    ("$12.50 - $9.99", (11.245, 9.99, 12.5, False)),
    ("$9.99-$12.50", (11.245, 9.99, 12.5, False)),
    ("$9.99 – $12.50", (11.245, 9.99, 12.5, False)),
    ("$9.99 - 12.50", (11.245, 9.99, 12.5, False)),
    ("$5 - $5", (5.0, 5.0, 5.0, False)),
    ("  $9.99  ", (9.99, 9.99, 9.99, False)),
    ("$ 9.99", (9.99, 9.99, 9.99, False)),
    ("$5", (5.0, 5.0, 5.0, False)),
    ("$5.", (5.0, 5.0, 5.0, False)),
    ("$.99", (0.99, 0.99, 0.99, False)),
    ("$1,234,567.89", (1234567.89, 1234567.89, 1234567.89, False)),
    ("1299", (1299.0, 1299.0, 1299.0, False)),
    ("$1,29.00", JUNK),
    ("$1299,00", JUNK),
    ("£9.99", JUNK),
    ("EUR 9.99", JUNK),
    ("-$5.00", JUNK),
    ("$-5.00", JUNK),
    ("$1 - $2 - $3", JUNK),
    ("$9.99 each", JUNK),
    ("$", JUNK),
    ("$9.99.99", JUNK),
]


def test_parse_prices_each_form() -> None:
    result = parse_prices(pl.Series("price", [raw for raw, _ in PRICES], dtype=pl.String))
    assert result.schema == PRICE_SCHEMA
    assert result.rows() == [expected for _, expected in PRICES]


@pytest.mark.parametrize(("raw", "expected"), PRICES)
def test_parse_prices_one_row(raw: str | None, expected: tuple) -> None:
    assert parse_prices(pl.Series([raw], dtype=pl.String)).rows() == [expected]


def test_range_midpoint_has_no_binary_noise() -> None:
    assert (9.99 + 12.5) / 2 != 11.245  # why the midpoint is rounded
    assert parse_prices(pl.Series(["$9.99 - $12.50"]))["price"].to_list() == [11.245]


@pytest.mark.parametrize(
    "raw", [pl.Series([], dtype=pl.String), pl.Series([None, None]), pl.Series([], dtype=pl.Null)]
)
def test_parse_prices_empty_and_all_null(raw: pl.Series) -> None:
    result = parse_prices(raw)
    assert result.schema == PRICE_SCHEMA
    assert result.rows() == [NO_PRICE] * len(raw)
