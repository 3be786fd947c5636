"""Bronze product metadata -> (silver rows, quarantine rows), per docs/table_contracts.md."""

from __future__ import annotations

import datetime as dt

import orjson
import polars as pl
import pytest

from paisa_assets.transforms.metadata import LIST_FIELDS, dedupe_metadata, split_metadata
from paisa_assets.transforms.schemas import (
    BRONZE_METADATA_COLUMNS,
    BRONZE_METADATA_SCHEMA,
    QUARANTINE_SCHEMA,
    SILVER_METADATA_SCHEMA,
)
from paisa_assets_tests.support.transforms import (
    INGESTED_AT,
    bronze_frame,
    bronze_metadata,
)

ASIN = "B000FA64PK"
FASHION_LOGO = (
    '<img src="https://m.media-amazon.com/images/G/01/nav2/images/gui/'
    'amazon-fashion-store-new._CB520838675_.png" class="nav-categ-image" alt="AMAZON FASHION"/>'
)


def split_one(**fields: object) -> tuple[pl.DataFrame, pl.DataFrame]:
    return split_metadata(bronze_metadata({"asin": ASIN, **fields}))


def silver_row(**fields: object) -> dict[str, object]:
    silver, quarantine = split_one(**fields)
    assert quarantine.is_empty(), quarantine["reason"].to_list()
    return silver.row(0, named=True)


def reason_of(**fields: object) -> str:
    silver, quarantine = split_one(**fields)
    assert silver.is_empty()
    return quarantine["reason"].item()


def test_schema_constants_follow_the_contract() -> None:
    assert BRONZE_METADATA_COLUMNS == (
        "asin", "title", "brand", "main_cat", "category", "price", "also_buy", "also_view",
        "rank", "description", "feature", "image", "details", "date", "similar_item", "tech1",
        "tech2", "fit",
    )  # fmt: skip
    lineage = ["_rescued_data", "_partition", "_source_file", "_line", "_ingested_at"]
    assert SILVER_METADATA_SCHEMA.names() == [
        "asin", "title", "brand", "main_cat", "category", "price", "price_min", "price_max",
        "price_raw", "price_invalid", "rank", "rank_category", "rank_raw", "also_buy",
        "also_view", "description", "feature", "image", "details", "date", "similar_item",
        "tech1", "tech2", "fit", *lineage,
    ]  # fmt: skip
    assert BRONZE_METADATA_SCHEMA.names() == [*BRONZE_METADATA_COLUMNS, *lineage]
    assert all(SILVER_METADATA_SCHEMA[name] == pl.List(pl.String) for name in LIST_FIELDS)


def test_full_row() -> None:
    bronze = bronze_metadata(
        {
            "asin": ASIN,
            "title": '<span id="productTitle" class="a-size-large">\n  Sony  MDR-7506 </span>',
            "brand": "Procter &amp; Gamble",
            "main_cat": FASHION_LOGO,
            "category": '["Clothing, Shoes &amp; Jewelry","Women"]',
            "price": "$9.99 - $12.50",
            "also_buy": '["B0001","B0002"]',
            "also_view": "[]",
            "rank": '[">#2,090,306 in Books (See Top 100 in Books)",">#5 in Books > Fiction"]',
            "description": '["Line one.", "Line \\"two\\"."]',
            "feature": '["Soft"]',
            "image": '["https://images-na.ssl-images-amazon.com/images/I/41a.jpg"]',
            "details": '{"\\n    Item Weight: \\n    ": "1.2 pounds", "ASIN:": "B000FA64PK"}',
            "date": '<div class="a-fixed-left-grid-col a-col-right">June 1, 2008</div>',
            "similar_item": ' <table class="a-bordered">...</table>',
            "tech1": "<td>Brand</td>",
            "tech2": "",
            "fit": 'Fit: True to size (<span class="a-size-small">100%</span>)',
            "_rescued_data": '{"extra":1}',
        }
    )
    silver, quarantine = split_metadata(bronze)
    assert quarantine.is_empty()
    assert silver.schema == SILVER_METADATA_SCHEMA
    assert silver.to_dicts() == [
        {
            "asin": ASIN,
            "title": "Sony MDR-7506",
            "brand": "Procter & Gamble",
            "main_cat": "Amazon Fashion",
            "category": ["Clothing, Shoes & Jewelry", "Women"],
            "price": 11.245,
            "price_min": 9.99,
            "price_max": 12.5,
            "price_raw": "$9.99 - $12.50",
            "price_invalid": False,
            "rank": 2090306,
            "rank_category": "Books",
            "rank_raw": '[">#2,090,306 in Books (See Top 100 in Books)",">#5 in Books > Fiction"]',
            "also_buy": ["B0001", "B0002"],
            "also_view": [],
            "description": ["Line one.", 'Line "two".'],
            "feature": ["Soft"],
            "image": ["https://images-na.ssl-images-amazon.com/images/I/41a.jpg"],
            "details": '{"\\n    Item Weight: \\n    ":"1.2 pounds","ASIN:":"B000FA64PK"}',
            "date": '<div class="a-fixed-left-grid-col a-col-right">June 1, 2008</div>',
            "similar_item": ' <table class="a-bordered">...</table>',
            "tech1": "<td>Brand</td>",
            "tech2": "",
            "fit": 'Fit: True to size (<span class="a-size-small">100%</span>)',
            "_rescued_data": '{"extra":1}',
            "_partition": "partition_1",
            "_source_file": "dataset/partition_1/part-00000.json.gz",
            "_line": 1,
            "_ingested_at": INGESTED_AT,
        }
    ]


def test_only_asin_is_required() -> None:
    row = silver_row()
    assert row["asin"] == ASIN
    assert row["price_invalid"] is False
    typed = [name for name in SILVER_METADATA_SCHEMA.names() if not name.startswith("_")]
    assert [name for name in typed if row[name] is not None] == ["asin", "price_invalid"]


def test_asin_is_trimmed() -> None:
    assert silver_row(asin=f"  {ASIN}\n")["asin"] == ASIN


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ('<span id="productTitle">Foo</span>', "Foo"),
        ("Kids&#39; Toy &amp; Game", "Kids' Toy & Game"),
        ("  Plain   title ", "Plain title"),
        ("", None),
        ("<span> </span>", None),
        (None, None),
    ],
)
def test_title_and_brand_are_plain_text(title: str | None, expected: str | None) -> None:
    row = silver_row(title=title, brand=title)
    assert (row["title"], row["brand"]) == (expected, expected)


@pytest.mark.parametrize(
    ("main_cat", "category", "expected"),
    [
        ("Arts, Crafts &amp; Sewing", '["Other"]', "Arts, Crafts & Sewing"),
        (FASHION_LOGO, None, "Amazon Fashion"),
        ("", '["Amazon Fashion"]', "Amazon Fashion"),
        ("amazon fashion", None, "Amazon Fashion"),
        ("", '["Clothing, Shoes &amp; Jewelry","Women"]', "Clothing, Shoes & Jewelry"),
        (None, '["<b>Toys</b> &amp; Games"]', "Toys & Games"),
        ("", "[]", None),
        ("", None, None),
    ],
)
def test_main_cat(main_cat: str | None, category: str | None, expected: str | None) -> None:
    assert silver_row(main_cat=main_cat, category=category)["main_cat"] == expected


def test_category_elements_are_entity_decoded_only() -> None:
    row = silver_row(category='["Clothing, Shoes &amp; Jewelry", " <b>Bold</b> ", "caf&eacute;"]')
    assert row["category"] == ["Clothing, Shoes & Jewelry", " <b>Bold</b> ", "café"]


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("$1,299.00", (1299.0, 1299.0, 1299.0, "$1,299.00", False)),
        ("", (None, None, None, "", False)),
        (".a-box{color:red}", (None, None, None, ".a-box{color:red}", True)),
    ],
)
def test_price_columns(price: str, expected: tuple) -> None:
    row = silver_row(price=price)
    columns = ("price", "price_min", "price_max", "price_raw", "price_invalid")
    assert tuple(row[name] for name in columns) == expected


@pytest.mark.parametrize(
    ("rank", "expected"),
    [
        ("14,082,777 in Clothing, Shoes & Jewelry (", (14082777, "Clothing, Shoes & Jewelry")),
        ("[]", (None, None)),
        ("unranked", (None, None)),
    ],
)
def test_rank_columns(rank: str, expected: tuple) -> None:
    row = silver_row(rank=rank)
    assert (row["rank"], row["rank_category"], row["rank_raw"]) == (*expected, rank)


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ('{"Color:": "Red", "Size:": {"W": 1}}', '{"Color:":"Red","Size:":{"W":1}}'),
        ("{}", "{}"),
        ("not an object", "not an object"),
        ("[1]", "[1]"),
        (None, None),
    ],
)
def test_details(details: str | None, expected: str | None) -> None:
    assert silver_row(details=details)["details"] == expected


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"asin": None}, "missing asin"),
        ({"asin": ""}, "missing asin"),
        ({"asin": " \t"}, "missing asin"),
        ({"category": "Books"}, "category is not a JSON array of strings"),
        ({"also_buy": "[1]"}, "also_buy is not a JSON array of strings"),
        ({"also_view": '{"a":"b"}'}, "also_view is not a JSON array of strings"),
        ({"description": '"one string"'}, "description is not a JSON array of strings"),
        ({"feature": '["a",]'}, "feature is not a JSON array of strings"),
        ({"image": ""}, "image is not a JSON array of strings"),
    ],
)
def test_each_quarantine_reason(fields: dict[str, str | None], reason: str) -> None:
    assert reason_of(**fields) == reason


def test_every_violation_in_contract_order() -> None:
    fields = {name: "x" for name in LIST_FIELDS}
    reason = reason_of(asin=None, **fields)
    assert reason.split("; ") == [
        "missing asin",
        "category is not a JSON array of strings",
        "also_buy is not a JSON array of strings",
        "also_view is not a JSON array of strings",
        "description is not a JSON array of strings",
        "feature is not a JSON array of strings",
        "image is not a JSON array of strings",
    ]


def test_bad_price_rank_or_details_never_quarantine() -> None:
    silver, quarantine = split_one(price="junk", rank="junk", details="junk")
    assert (silver.height, quarantine.height) == (1, 0)


def test_quarantine_row() -> None:
    bronze = bronze_metadata({"asin": ASIN}, {"asin": "B2", "image": "x", "title": "T &amp; U"})
    silver, quarantine = split_metadata(bronze)
    assert silver["asin"].to_list() == [ASIN]
    assert quarantine.schema == QUARANTINE_SCHEMA
    row = quarantine.row(0, named=True)
    assert row["_line"] == 2
    assert row["reason"] == "image is not a JSON array of strings"
    expected = {name: None for name in BRONZE_METADATA_COLUMNS}
    expected.update(asin="B2", image="x", title="T &amp; U")
    assert list(orjson.loads(row["record"]).items()) == list(expected.items())


def test_empty_input() -> None:
    silver, quarantine = split_metadata(bronze_metadata())
    assert silver.schema == SILVER_METADATA_SCHEMA
    assert quarantine.schema == QUARANTINE_SCHEMA
    assert silver.height == quarantine.height == 0


def test_all_null_data_columns() -> None:
    silver, quarantine = split_metadata(bronze_metadata({}, {}))
    assert silver.schema == SILVER_METADATA_SCHEMA
    assert silver.is_empty()
    assert quarantine["reason"].to_list() == ["missing asin", "missing asin"]


def test_untyped_all_null_columns_are_cast() -> None:
    bronze = bronze_metadata({"asin": ASIN}, {"asin": "B2"}).with_columns(
        pl.lit(None).alias(name) for name in BRONZE_METADATA_COLUMNS[1:]
    )
    assert bronze.schema["category"] == pl.Null
    silver, quarantine = split_metadata(bronze)
    assert quarantine.is_empty()
    assert silver.schema == SILVER_METADATA_SCHEMA
    assert silver["asin"].to_list() == [ASIN, "B2"]


def test_missing_column_is_an_error() -> None:
    with pytest.raises(ValueError, match="rank"):
        split_metadata(bronze_metadata({"asin": ASIN}).drop("rank"))


def test_dedupe_keeps_the_last_position_whatever_the_ingestion_time() -> None:
    later = INGESTED_AT + dt.timedelta(hours=1)

    def at(partition: str, file: str, line: int, **row: object) -> dict[str, object]:
        return {"_partition": partition, "_source_file": f"m/{partition}/{file}", "_line": line}

    rows = [
        # partition_10 is after partition_2 (numeric order), though its name sorts first and
        # it was ingested earlier.
        {"asin": "A", "title": "p10", **at("partition_10", "a.json", 1)},
        {"asin": "B", "title": "only", **at("partition_1", "a.json", 1)},
        {"asin": "A", "title": "p2", "_ingested_at": later, **at("partition_2", "z.json", 9)},
        {"asin": "C", "title": "smaller file", **at("partition_3", "a.json", 5)},
        {"asin": "C", "title": "larger line", **at("partition_3", "b.json", 2)},
        {"asin": "C", "title": "larger file", **at("partition_3", "b.json", 1)},
        {"asin": "D", "title": "part-10", **at("partition_4", "part-10.json", 1)},
        {"asin": "D", "title": "part-9", **at("partition_4", "part-9.json", 7)},
    ]
    silver, _ = split_metadata(bronze_frame(rows, BRONZE_METADATA_SCHEMA))
    winners = dedupe_metadata(silver)
    assert winners.schema == SILVER_METADATA_SCHEMA
    assert winners.select("asin", "title").rows() == [
        ("A", "p10"),
        ("B", "only"),
        ("C", "larger line"),
        ("D", "part-10"),
    ]
    # Any row order gives the same winners.
    shuffled = dedupe_metadata(silver.reverse()).sort("asin")
    assert (
        shuffled.select("asin", "title").rows()
        == winners.sort("asin").select("asin", "title").rows()
    )


def test_dedupe_empty() -> None:
    silver, _ = split_metadata(bronze_metadata())
    assert dedupe_metadata(silver).is_empty()
