"""Bronze reviews -> (silver rows, quarantine rows), exactly per docs/table_contracts.md."""

from __future__ import annotations

import datetime as dt

import orjson
import polars as pl
import pytest

from paisa_assets.transforms.reviews import (
    dedupe_reviews,
    review_id,
    review_ids,
    split_reviews,
)
from paisa_assets.transforms.schemas import (
    BRONZE_REVIEWS_COLUMNS,
    BRONZE_REVIEWS_SCHEMA,
    QUARANTINE_SCHEMA,
    SILVER_REVIEWS_SCHEMA,
)
from paisa_assets_tests.support.datathon import shared_file
from paisa_assets_tests.support.transforms import INGESTED_AT, bronze_frame, bronze_reviews

REVIEWER = "A2SRUN49ERLGV0"
ASIN = "B0002F5IJ6"
# blake2b(b"A2SRUN49ERLGV0\x1fB0002F5IJ6", digest_size=8): must never change, silver keys on it.
REVIEW_ID = "d78efd414a8633a7"
VALID = {"asin": ASIN, "reviewerID": REVIEWER, "overall": "5.0"}


def split_one(**fields: object) -> tuple[pl.DataFrame, pl.DataFrame]:
    return split_reviews(bronze_reviews({**VALID, **fields}))


def silver_value(column: str, **fields: object) -> object:
    silver, quarantine = split_one(**fields)
    assert quarantine.is_empty(), quarantine["reason"].to_list()
    return silver[column].to_list()[0]


def reason_of(**fields: object) -> str:
    silver, quarantine = split_one(**fields)
    assert silver.is_empty()
    return quarantine["reason"].item()


def test_schema_constants_follow_the_contract() -> None:
    assert BRONZE_REVIEWS_COLUMNS == (
        "asin", "reviewerID", "reviewerName", "overall", "reviewText", "summary",
        "unixReviewTime", "reviewTime", "verified", "vote", "style", "image",
    )  # fmt: skip
    lineage = ["_rescued_data", "_partition", "_source_file", "_line", "_ingested_at"]
    assert SILVER_REVIEWS_SCHEMA.names() == [
        "review_id", "asin", "reviewerID", "reviewerName", "overall", "reviewText", "summary",
        "unixReviewTime", "reviewTime", "review_date", "verified", "vote", "style", "image",
        *lineage, "_review_key",
    ]  # fmt: skip
    assert QUARANTINE_SCHEMA.names() == ["_partition", "_source_file", "_line", "reason", "record"]
    assert BRONZE_REVIEWS_SCHEMA.names() == [*BRONZE_REVIEWS_COLUMNS, *lineage]


# --- review_id -------------------------------------------------------------------------------


def test_review_id_is_a_fixed_blake2b_digest() -> None:
    assert review_id(REVIEWER, ASIN) == REVIEW_ID
    assert review_id(ASIN, REVIEWER) != REVIEW_ID  # order matters
    assert review_id("A1", "23") != review_id("A12", "3")  # the separator keeps parts apart


def test_review_ids_vectorised_and_null_safe() -> None:
    ids = review_ids(pl.Series([REVIEWER, None, REVIEWER]), pl.Series([ASIN, ASIN, None]))
    assert ids.name == "review_id"
    assert ids.to_list() == [REVIEW_ID, None, None]
    assert review_ids(pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.String)).len() == 0


def test_silver_review_id_uses_trimmed_keys() -> None:
    silver, _ = split_one(asin=f" {ASIN} ", reviewerID=f"{REVIEWER}\t")
    assert silver.select("review_id", "asin", "reviewerID").row(0) == (REVIEW_ID, ASIN, REVIEWER)


# --- typed silver rows -------------------------------------------------------------------------


def test_full_valid_row() -> None:
    bronze = bronze_reviews(
        {
            "asin": ASIN,
            "reviewerID": REVIEWER,
            "reviewerName": "M. Harris",
            "overall": "5.0",
            "reviewText": "Works <b>great</b> &amp; fits",
            "summary": "Works For a Sax Guy",
            "unixReviewTime": "1431388800",
            "reviewTime": "05 12, 2015",
            "verified": "true",
            "vote": "1,234",
            "style": '{"Size:": " Large", "Color:": " Black"}',
            "image": '["https://images-na.ssl-images-amazon.com/images/I/71a.jpg"]',
            "_rescued_data": '{"internal_partition":"0"}',
        }
    )
    silver, quarantine = split_reviews(bronze)
    assert quarantine.is_empty()
    assert silver.schema == SILVER_REVIEWS_SCHEMA
    assert silver.to_dicts() == [
        {
            "review_id": REVIEW_ID,
            "asin": ASIN,
            "reviewerID": REVIEWER,
            "reviewerName": "M. Harris",
            "overall": 5,
            "reviewText": "Works <b>great</b> &amp; fits",
            "summary": "Works For a Sax Guy",
            "unixReviewTime": 1431388800,
            "reviewTime": "05 12, 2015",
            "review_date": dt.date(2015, 5, 12),
            "verified": True,
            "vote": 1234,
            "style": '{"Size:":" Large","Color:":" Black"}',
            "image": ["https://images-na.ssl-images-amazon.com/images/I/71a.jpg"],
            "_rescued_data": '{"internal_partition":"0"}',
            "_partition": "partition_1",
            "_source_file": "dataset/partition_1/part-00000.json.gz",
            "_line": 1,
            "_ingested_at": INGESTED_AT,
            # d78efd414a8633a7 as an unsigned integer, minus 2**63
            "_review_key": 6_309_258_584_857_654_183,
        }
    ]


def test_only_asin_reviewer_and_rating_are_required() -> None:
    silver, quarantine = split_reviews(
        bronze_reviews({"asin": ASIN, "reviewerID": REVIEWER, "overall": "4.0"})
    )
    assert quarantine.is_empty()
    row = silver.row(0, named=True)
    assert row["review_id"] == REVIEW_ID
    typed = [name for name in SILVER_REVIEWS_SCHEMA.names() if not name.startswith("_")]
    assert [name for name in typed if row[name] is not None] == [
        "review_id",
        "asin",
        "reviewerID",
        "overall",
    ]


@pytest.mark.parametrize(
    ("overall", "expected"),
    [("5.0", 5), ("1", 1), ("3.0", 3), (" 4 ", 4), ("2.", 2), ("5e0", 5)],
)
def test_overall(overall: str | None, expected: int | None) -> None:
    assert silver_value("overall", overall=overall) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"unixReviewTime": "1431388800"}, dt.date(2015, 5, 12)),
        ({"unixReviewTime": "1431475199"}, dt.date(2015, 5, 12)),  # 23:59:59 UTC
        ({"unixReviewTime": "1431475200"}, dt.date(2015, 5, 13)),
        ({"unixReviewTime": "-86400"}, dt.date(1969, 12, 31)),
        ({"unixReviewTime": "-1"}, dt.date(1969, 12, 31)),
        ({"unixReviewTime": "1431388800", "reviewTime": "01 1, 2000"}, dt.date(2015, 5, 12)),
        ({"reviewTime": "09 5, 2015"}, dt.date(2015, 9, 5)),
        ({"reviewTime": "12 25, 2001"}, dt.date(2001, 12, 25)),
        ({"reviewTime": "1 5, 2001"}, dt.date(2001, 1, 5)),
        ({"reviewTime": " 09 05, 2015 "}, dt.date(2015, 9, 5)),
        ({"reviewTime": "2015-09-05"}, None),
        ({"reviewTime": "13 5, 2015"}, None),
        ({"reviewTime": ""}, None),
        ({}, None),
        # Milliseconds by mistake: year 47000 is not a Delta date, so reviewTime is used.
        ({"unixReviewTime": "1431388800000", "reviewTime": "05 12, 2015"}, dt.date(2015, 5, 12)),
        ({"unixReviewTime": "1431388800000"}, None),
    ],
)
def test_review_date(fields: dict[str, str], expected: dt.date | None) -> None:
    assert silver_value("review_date", **fields) == expected


def test_review_time_stays_raw() -> None:
    assert silver_value("reviewTime", reviewTime="garbage") == "garbage"


@pytest.mark.parametrize(
    ("verified", "expected"), [("true", True), ("false", False), ("True", True), (None, None)]
)
def test_verified(verified: str | None, expected: bool | None) -> None:
    assert silver_value("verified", verified=verified) is expected


@pytest.mark.parametrize(
    ("vote", "expected"),
    [("1,234", 1234), ("12", 12), ("0", 0), ("1,234,567", 1234567), (" 7 ", 7), (None, None)],
)
def test_vote(vote: str | None, expected: int | None) -> None:
    assert silver_value("vote", vote=vote) == expected


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ('{"Size:": " Large", "Color:": " Black"}', '{"Size:":" Large","Color:":" Black"}'),
        ('{"Color:":" PUERTO RICAN"}', '{"Color:":" PUERTO RICAN"}'),
        ('{"Format:": " Kindle Edition"}', '{"Format:":" Kindle Edition"}'),
        ("{}", "{}"),
        (None, None),
    ],
)
def test_style_is_normalised_json_object_text(style: str | None, expected: str | None) -> None:
    assert silver_value("style", style=style) == expected


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ('["https://a/1.jpg","https://a/2.jpg"]', ["https://a/1.jpg", "https://a/2.jpg"]),
        ('["https://a/1.jpg", "https://a/2.jpg"]', ["https://a/1.jpg", "https://a/2.jpg"]),
        ("[]", []),
        (None, None),
    ],
)
def test_image_is_decoded(image: str | None, expected: list[str] | None) -> None:
    assert silver_value("image", image=image) == expected


# --- quarantine --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"asin": None}, "missing asin"),
        ({"asin": ""}, "missing asin"),
        ({"asin": "  "}, "missing asin"),
        ({"reviewerID": None}, "missing reviewerID"),
        ({"reviewerID": "\t"}, "missing reviewerID"),
        ({"overall": None}, "missing overall"),
        ({"overall": "five"}, "overall is not a number: five"),
        ({"overall": ""}, "overall is not a number: "),
        ({"overall": "NaN"}, "overall is not a number: NaN"),
        ({"overall": "inf"}, "overall is not a number: inf"),
        ({"overall": "4.5"}, "overall out of range: 4.5"),
        ({"overall": "0"}, "overall out of range: 0"),
        ({"overall": "0.0"}, "overall out of range: 0.0"),
        ({"overall": "6.0"}, "overall out of range: 6.0"),
        ({"overall": "-1"}, "overall out of range: -1"),
        ({"overall": "1e999"}, "overall out of range: 1e999"),
        ({"verified": "yes"}, "verified is not a boolean: yes"),
        ({"verified": "1"}, "verified is not a boolean: 1"),
        ({"verified": ""}, "verified is not a boolean: "),
        ({"vote": "1,23"}, "vote is not an integer: 1,23"),
        ({"vote": "1.5"}, "vote is not an integer: 1.5"),
        ({"vote": "many"}, "vote is not an integer: many"),
        ({"vote": ""}, "vote is not an integer: "),
        ({"style": "Large"}, "style is not a JSON object"),
        ({"style": '[{"Size:": "L"}]'}, "style is not a JSON object"),
        ({"style": '{"Size:": "L"'}, "style is not a JSON object"),
        ({"style": ""}, "style is not a JSON object"),
        ({"image": "https://a/1.jpg"}, "image is not a JSON array of strings"),
        ({"image": "[1, 2]"}, "image is not a JSON array of strings"),
        ({"image": '["https://a/1.jpg"'}, "image is not a JSON array of strings"),
        ({"unixReviewTime": "1431388800.0"}, "unixReviewTime is not an integer: 1431388800.0"),
        ({"unixReviewTime": "1,431,388,800"}, "unixReviewTime is not an integer: 1,431,388,800"),
        ({"unixReviewTime": "May 12"}, "unixReviewTime is not an integer: May 12"),
        ({"unixReviewTime": "9" * 20}, f"unixReviewTime is not an integer: {'9' * 20}"),
    ],
)
def test_each_quarantine_reason(fields: dict[str, str | None], reason: str) -> None:
    assert reason_of(**fields) == reason


def test_every_violation_of_a_row_in_contract_order() -> None:
    reason = reason_of(
        asin=None,
        reviewerID="",
        overall="x",
        verified="yes",
        vote="1,23",
        style="[1]",
        image="[1]",
        unixReviewTime="1.5",
    )
    assert reason.split("; ") == [
        "missing asin",
        "missing reviewerID",
        "overall is not a number: x",
        "verified is not a boolean: yes",
        "vote is not an integer: 1,23",
        "style is not a JSON object",
        "image is not a JSON array of strings",
        "unixReviewTime is not an integer: 1.5",
    ]
    assert reason_of(overall="7", reviewerID=None) == "missing reviewerID; overall out of range: 7"


def test_quarantine_row_keeps_lineage_and_the_raw_record() -> None:
    bronze = bronze_reviews(
        VALID,
        {**VALID, "overall": "6.0", "style": '{"Size:": " L"}', "_rescued_data": '{"x":1}'},
    )
    silver, quarantine = split_reviews(bronze)
    assert silver["_line"].to_list() == [1]
    assert quarantine.schema == QUARANTINE_SCHEMA
    row = quarantine.row(0, named=True)
    assert {key: value for key, value in row.items() if key != "record"} == {
        "_partition": "partition_1",
        "_source_file": "dataset/partition_1/part-00000.json.gz",
        "_line": 2,
        "reason": "overall out of range: 6.0",
    }
    expected = {name: None for name in BRONZE_REVIEWS_COLUMNS}
    expected.update(VALID, overall="6.0", style='{"Size:": " L"}')
    assert list(orjson.loads(row["record"]).items()) == list(expected.items())


def test_record_is_exact_json_of_the_bronze_data_columns() -> None:
    _, quarantine = split_one(asin=" ", vote="x", reviewText='say "hi"\n')
    assert quarantine["record"].item() == (
        '{"asin":" ","reviewerID":"A2SRUN49ERLGV0","reviewerName":null,"overall":"5.0",'
        '"reviewText":"say \\"hi\\"\\n","summary":null,"unixReviewTime":null,"reviewTime":null,'
        '"verified":null,"vote":"x","style":null,"image":null}'
    )


# --- frame shapes --------------------------------------------------------------------------------


def test_empty_input() -> None:
    silver, quarantine = split_reviews(bronze_reviews())
    assert silver.schema == SILVER_REVIEWS_SCHEMA
    assert quarantine.schema == QUARANTINE_SCHEMA
    assert silver.height == quarantine.height == 0


def test_all_null_data_columns() -> None:
    bronze = bronze_reviews({}, {})
    silver, quarantine = split_reviews(bronze)
    assert silver.schema == SILVER_REVIEWS_SCHEMA
    assert silver.is_empty()
    assert (
        quarantine["reason"].to_list() == ["missing asin; missing reviewerID; missing overall"] * 2
    )


def test_untyped_all_null_columns_are_cast() -> None:
    """Columns of the Null dtype (a frame built from nothing but nulls) still type correctly."""
    bronze = bronze_reviews(VALID).with_columns(
        pl.lit(None).alias(name) for name in BRONZE_REVIEWS_COLUMNS[4:]
    )
    assert bronze.schema["vote"] == pl.Null
    silver, quarantine = split_reviews(bronze)
    assert quarantine.is_empty()
    assert silver.schema == SILVER_REVIEWS_SCHEMA
    assert silver.select("review_id", "overall", "vote", "image").rows() == [
        (REVIEW_ID, 5, None, None)
    ]


def test_missing_column_is_an_error() -> None:
    with pytest.raises(ValueError, match="vote"):
        split_reviews(bronze_reviews(VALID).drop("vote"))


def test_lineage_columns_may_come_in_other_types() -> None:
    bronze = bronze_frame([VALID], BRONZE_REVIEWS_SCHEMA).with_columns(
        pl.col("_line").cast(pl.Int32),
        pl.col("_ingested_at").dt.cast_time_unit("ns"),
    )
    silver, _ = split_reviews(bronze)
    assert silver.schema == SILVER_REVIEWS_SCHEMA
    assert silver["_ingested_at"].item() == INGESTED_AT


# --- deduplication -------------------------------------------------------------------------------


def test_dedupe_keeps_the_first_arrival() -> None:
    other = {"asin": "B2", "reviewerID": "R2", "overall": "1.0"}
    rows = [
        {**VALID, "summary": "later file", "_source_file": "b.json.gz", "_line": 1},
        {**other, "_source_file": "a.json.gz", "_line": 9},
        {**VALID, "summary": "first", "_source_file": "a.json.gz", "_line": 3},
        {**VALID, "summary": "same file, later line", "_source_file": "a.json.gz", "_line": 10},
        {**other, "_source_file": "a.json.gz", "_line": 2},
    ]
    silver, _ = split_reviews(bronze_frame(rows, BRONZE_REVIEWS_SCHEMA))
    winners = dedupe_reviews(silver)
    assert winners.schema == SILVER_REVIEWS_SCHEMA
    assert winners.select("review_id", "_source_file", "_line").rows() == [
        (REVIEW_ID, "a.json.gz", 3),
        (review_id("R2", "B2"), "a.json.gz", 2),
    ]
    assert winners["summary"].to_list() == ["first", None]


def test_dedupe_empty() -> None:
    silver, _ = split_reviews(bronze_reviews())
    assert dedupe_reviews(silver).schema == SILVER_REVIEWS_SCHEMA


# --- the real stream sample --------------------------------------------------------------------


def test_real_stream_events_all_reach_silver() -> None:
    events = [
        orjson.loads(line)
        for line in shared_file("stream_events_sample.jsonl").read_bytes().splitlines()
    ]
    rows = [{name: event.get(name) for name in BRONZE_REVIEWS_COLUMNS} for event in events]
    silver, quarantine = split_reviews(bronze_frame(rows, BRONZE_REVIEWS_SCHEMA))
    assert quarantine.is_empty()
    assert silver.height == 4140
    assert silver["asin"].n_unique() == 394
    assert silver["reviewerID"].n_unique() == 4065
    assert dict(silver["overall"].value_counts().rows()) == {
        5: 2859,
        4: 528,
        3: 258,
        2: 184,
        1: 311,
    }
    assert silver["review_date"].null_count() == 4140  # no unixReviewTime: enqueued time is used
    styled = silver.filter(pl.col("style").is_not_null())
    assert styled["style"].str.starts_with("{").all()
    assert dedupe_reviews(silver)["review_id"].is_unique().all()
