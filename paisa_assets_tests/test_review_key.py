"""`_review_key`: review_id's 64 bits as an integer, the same in Polars and DuckDB."""

from __future__ import annotations

import duckdb
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from paisa_assets.transforms.review_key import image_mismatch_sql, review_key, review_key_sql
from paisa_assets.transforms.reviews import review_id

EDGES = {
    "0000000000000000": -(2**63),
    "7fffffffffffffff": -1,
    "8000000000000000": 0,
    "ffffffffffffffff": 2**63 - 1,
    "d78efd414a8633a7": 0xD78EFD414A8633A7 - 2**63,
}
# Not a review id: no image (uppercase, too short, too long, not hex, empty, null).
NOT_IDS = ["D78EFD414A8633A7", "d78efd414a8633a", "d78efd414a8633a70", "zzzzzzzzzzzzzzzz", ""]


def _keys(ids: list[str | None]) -> list[int | None]:
    frame = pl.DataFrame({"review_id": ids}, schema={"review_id": pl.String})
    return frame.select(review_key(pl.col("review_id"))).to_series().to_list()


def _sql_keys(ids: list[str | None]) -> list[int | None]:
    con = duckdb.connect()
    con.register("ids", pl.DataFrame({"review_id": ids}, schema={"review_id": pl.String}))
    return [row[0] for row in con.sql(f"SELECT {review_key_sql('review_id')} FROM ids").fetchall()]


def test_edges_and_order() -> None:
    ids = list(EDGES)
    assert _keys(ids) == list(EDGES.values())
    assert _sql_keys(ids) == list(EDGES.values())
    # the integers sort as the hex strings do
    assert sorted(ids) == [i for _, i in sorted(zip(_keys(ids), ids, strict=True))]


def test_anything_but_a_review_id_has_no_image() -> None:
    assert _keys([*NOT_IDS, None]) == [None] * (len(NOT_IDS) + 1)
    assert _sql_keys([*NOT_IDS, None]) == [None] * (len(NOT_IDS) + 1)


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=40))
def test_same_in_polars_and_duckdb_and_one_to_one(pairs: list[tuple[str, str]]) -> None:
    ids = [review_id(reviewer, asin) for reviewer, asin in pairs]
    keys = _keys(ids)
    assert keys == _sql_keys(ids)
    assert None not in keys
    # equal exactly where the ids are
    assert len(set(keys)) == len(set(ids))
    assert [int(i, 16) - 2**63 for i in ids] == keys


def test_mismatch_finds_every_wrong_image() -> None:
    rows = pl.DataFrame(
        {
            "review_id": ["d78efd414a8633a7", "d78efd414a8633a7", None, None, "D78E", "D78E"],
            "key": [EDGES["d78efd414a8633a7"], 5, None, 7, None, 1],
        }
    )
    con = duckdb.connect()
    con.register("keyed", rows)
    wrong = con.sql(f"SELECT {image_mismatch_sql('review_id', 'key')} FROM keyed").fetchall()
    # right; wrong; both null (no key to trust); a key without an id; an id without image
    # (lookups by the key would miss it) whether or not a key is stored
    assert [w for (w,) in wrong] == [False, True, False, True, True, True]
