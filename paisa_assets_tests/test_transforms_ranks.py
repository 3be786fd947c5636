"""Sales rank text (a string or a JSON array of strings) -> (rank, rank_category)."""

from __future__ import annotations

import polars as pl
import pytest

from paisa_assets.transforms.ranks import first_rank_text, parse_ranks

RANK_SCHEMA = pl.Schema({"rank": pl.Int64(), "rank_category": pl.String()})

# raw -> (rank, rank_category)
RANKS: list[tuple[str | None, tuple[int | None, str | None]]] = [
    ("14,082,777 in Clothing, Shoes & Jewelry (", (14082777, "Clothing, Shoes & Jewelry")),
    (">#2,090,306 in Books (See Top 100 in Books)", (2090306, "Books")),
    ("#1,234 in Kindle Store (See Top 100 in Kindle Store)", (1234, "Kindle Store")),
    ("#12 in Toys &amp; Games &gt; Kids' Electronics", (12, "Toys & Games > Kids' Electronics")),
    ("&gt;#3 in Beauty (See top 100)", (3, "Beauty")),
    ("  >#7\n in   Baby  (  ", (7, "Baby")),
    ("5 in Books (Paperback)", (5, "Books (Paperback)")),
    ("1 in Movies & TV", (1, "Movies & TV")),
    (
        '[">#2,090,306 in Books (See Top 100 in Books)", ">#5 in Books > Fiction"]',
        (2090306, "Books"),
    ),
    ('["14,082,777 in Clothing, Shoes &amp; Jewelry ("]', (14082777, "Clothing, Shoes & Jewelry")),
    ('[ "\\u003e#9 in Home \\u0026 Kitchen (" ]', (9, "Home & Kitchen")),
    ("12 in (", (12, None)),
    ("[]", (None, None)),
    ('["not a rank", "#5 in Books"]', (None, None)),
    ('["x"', (None, None)),
    ("", (None, None)),
    (None, (None, None)),
    ("not a rank", (None, None)),
    ("2,090,306in Books", (None, None)),
    ("1,23 in Books", (None, None)),
    ("#Books", (None, None)),
]


def test_parse_ranks_each_form() -> None:
    result = parse_ranks(pl.Series("rank", [raw for raw, _ in RANKS], dtype=pl.String))
    assert result.schema == RANK_SCHEMA
    assert result.rows() == [expected for _, expected in RANKS]


@pytest.mark.parametrize(("raw", "expected"), RANKS)
def test_parse_ranks_one_row(raw: str | None, expected: tuple) -> None:
    assert parse_ranks(pl.Series([raw], dtype=pl.String)).rows() == [expected]


def test_first_rank_text_takes_the_first_array_element() -> None:
    raw = pl.Series(['["#1 in A", "#2 in B"]', "#3 in C", "[]", None])
    assert first_rank_text(raw).to_list() == ["#1 in A", "#3 in C", None, None]


@pytest.mark.parametrize(
    "raw", [pl.Series([], dtype=pl.String), pl.Series([None, None]), pl.Series([], dtype=pl.Null)]
)
def test_parse_ranks_empty_and_all_null(raw: pl.Series) -> None:
    result = parse_ranks(raw)
    assert result.schema == RANK_SCHEMA
    assert result.rows() == [(None, None)] * len(raw)
