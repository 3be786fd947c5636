"""JSON-text decoding: one bad row never fails the batch, and every row's outcome is exact."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest

from paisa_assets.transforms.json_values import (
    Parsed,
    compact_json,
    decode_string_array,
    normalise_json_object,
    parse_boolean,
    parse_decimal,
    parse_integer,
)

# text -> (decoded list, invalid)
STRING_ARRAYS: list[tuple[str | None, list[str] | None, bool]] = [
    (None, None, False),
    ("[]", [], False),
    ("[ ]", [], False),
    ('["a"]', ["a"], False),
    ('["a","b"]', ["a", "b"], False),
    ('[ "a" , "b" ]', ["a", "b"], False),
    ('\n["a",\t"b"]\n', ["a", "b"], False),
    ('[""]', [""], False),
    ('["",""]', ["", ""], False),
    ('["a,b","c"]', ["a,b", "c"], False),
    ('["a\\",\\"b"]', ['a","b'], False),
    ('["caf\\u00e9 \\ud83d\\ude00"]', ["café 😀"], False),
    (
        '["line\\nbreak","tab\\t","slash\\/","back\\\\"]',
        ["line\nbreak", "tab\t", "slash/", "back\\"],
        False,
    ),
    ('["ünïcödé","日本"]', ["ünïcödé", "日本"], False),
    (
        '["https://images-na.ssl-images-amazon.com/images/I/71abc.jpg"]',
        ["https://images-na.ssl-images-amazon.com/images/I/71abc.jpg"],
        False,
    ),
    ("", None, True),
    ("   ", None, True),
    ("null", None, True),
    ('"x"', None, True),
    ("x", None, True),
    ("[1,2]", None, True),
    ('["a",1]', None, True),
    ('["a",null]', None, True),
    ('[["a"]]', None, True),
    ('{"a":"b"}', None, True),
    ('["a"', None, True),
    ('["a",]', None, True),
    ('["a" "b"]', None, True),
    ('["bad \\x escape"]', None, True),
    ('["raw\ncontrol"]', None, True),
    ("['single']", None, True),
]


def test_decode_string_array_each_form() -> None:
    texts = pl.Series("image", [text for text, _, _ in STRING_ARRAYS], dtype=pl.String)
    decoded = decode_string_array(texts)
    assert decoded.value.dtype == pl.List(pl.String)
    assert decoded.value.name == "image"
    assert decoded.value.to_list() == [expected for _, expected, _ in STRING_ARRAYS]
    assert decoded.invalid.to_list() == [invalid for _, _, invalid in STRING_ARRAYS]


@pytest.mark.parametrize(("text", "expected", "invalid"), STRING_ARRAYS)
def test_decode_string_array_one_row_at_a_time(
    text: str | None, expected: list[str] | None, invalid: bool
) -> None:
    """The same outcome alone as in a mixed batch: no row depends on its neighbours."""
    decoded = decode_string_array(pl.Series([text], dtype=pl.String))
    assert decoded.value.to_list() == [expected]
    assert decoded.invalid.to_list() == [invalid]


def test_decode_string_array_lone_surrogate_does_not_fail_the_batch() -> None:
    decoded = decode_string_array(pl.Series(['["\\ud800"]', '["ok"]', "junk"]))
    assert decoded.value.len() == 3
    assert decoded.value.to_list()[1:] == [["ok"], None]
    assert decoded.invalid.to_list() == [False, False, True]


@pytest.mark.parametrize("dtype", [pl.String, pl.Null])
def test_decode_string_array_all_null_and_empty(dtype: pl.DataType) -> None:
    for texts in (pl.Series([None, None], dtype=dtype), pl.Series([], dtype=dtype)):
        decoded = decode_string_array(texts)
        assert decoded.value.dtype == pl.List(pl.String)
        assert decoded.value.to_list() == [None] * len(texts)
        assert decoded.invalid.dtype == pl.Boolean
        assert decoded.invalid.to_list() == [False] * len(texts)


# text -> (normalised text, invalid)
JSON_OBJECTS: list[tuple[str | None, str | None, bool]] = [
    (None, None, False),
    ('{"Size:":" Large"}', '{"Size:":" Large"}', False),
    ('{"Size:": " Large", "Color:": " Black"}', '{"Size:":" Large","Color:":" Black"}', False),
    ('{"Color:":" PUERTO RICAN"}', '{"Color:":" PUERTO RICAN"}', False),
    ("{}", "{}", False),
    (" { } ", "{}", False),
    (
        '{\n  "a" : 1 ,\n  "b" : true, "c": null, "d": -1.5e3\n}',
        '{"a":1,"b":true,"c":null,"d":-1.5e3}',
        False,
    ),
    ('{"a": {"b": [1, "x y"]}}', '{"a":{"b":[1,"x y"]}}', False),
    ('{"k \\" : v": "x\\" , y"}', '{"k \\" : v":"x\\" , y"}', False),
    (
        '{"\\n    Item Weight: \\n    ": "1 pounds"}',
        '{"\\n    Item Weight: \\n    ":"1 pounds"}',
        False,
    ),
    ("", None, True),
    ("null", None, True),
    ('"{}"', None, True),
    ("[1]", None, True),
    ('[{"a":1}]', None, True),
    ("{a:1}", None, True),
    ('{"a":}', None, True),
    ('{"a":1', None, True),
    ('{"a":1} {"b":2}', None, True),
    ("{'a': 1}", None, True),
    ('{"a": NaN}', None, True),
    ('{"a": {"b": }}', None, True),
]


def test_normalise_json_object_each_form() -> None:
    texts = pl.Series("style", [text for text, _, _ in JSON_OBJECTS], dtype=pl.String)
    normalised = normalise_json_object(texts)
    assert normalised.value.name == "style"
    assert normalised.value.to_list() == [expected for _, expected, _ in JSON_OBJECTS]
    assert normalised.invalid.to_list() == [invalid for _, _, invalid in JSON_OBJECTS]


def test_normalise_json_object_empty_and_all_null() -> None:
    for texts in (pl.Series([], dtype=pl.String), pl.Series([None], dtype=pl.Null)):
        normalised = normalise_json_object(texts)
        assert normalised.value.dtype == pl.String
        assert normalised.value.to_list() == [None] * len(texts)
        assert normalised.invalid.to_list() == [False] * len(texts)


def test_compact_json_keeps_whitespace_inside_strings() -> None:
    texts = pl.Series(['[ "a b" , "c\\"  d" ]', '{"x":"  y  "}', None])
    assert compact_json(texts).to_list() == ['["a b","c\\"  d"]', '{"x":"  y  "}', None]


def _parse(
    parser: Callable[..., Parsed[pl.Expr]], texts: list[str | None], **kwargs: bool
) -> tuple[list, list]:
    """(values, invalid) of `parser` over `texts`, evaluated as it is in the silver frames."""
    parsed = parser(pl.col("t"), **kwargs)
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(
        parsed.value.alias("value"), parsed.invalid.alias("invalid")
    )
    return frame["value"].to_list(), frame["invalid"].to_list()


def test_parse_integer_with_thousands_separators() -> None:
    texts = [None, "0", "12", " 7 ", "1,234", "1,234,567", "+5", "-3", "-1,000"]
    texts += ["", " ", "1,23", "12,34", ",123", "1,", "1.0", "1e3", "one", "9" * 20]
    values, invalid = _parse(parse_integer, texts, thousands=True)
    assert values == [None, 0, 12, 7, 1234, 1234567, 5, -3, -1000] + [None] * 10
    assert invalid == [False] * 9 + [True] * 10


def test_parse_integer_without_thousands_separators() -> None:
    values, invalid = _parse(parse_integer, [None, "1431388800", "-86400", "1,234", "1.5", ""])
    assert values == [None, 1431388800, -86400, None, None, None]
    assert invalid == [False, False, False, True, True, True]


def test_parse_decimal() -> None:
    texts = [None, "5", "5.0", "4.", ".5", "-1.5", "1e0", " 3.0 ", "", "NaN", "inf", "5,0", "x"]
    values, invalid = _parse(parse_decimal, texts)
    assert values == [None, 5.0, 5.0, 4.0, 0.5, -1.5, 1.0, 3.0] + [None] * 5
    assert invalid == [False] * 8 + [True] * 5


def test_parse_boolean() -> None:
    texts = [None, "true", "false", "True", " FALSE ", "", "yes", "1", "0", "null"]
    values, invalid = _parse(parse_boolean, texts)
    assert values == [None, True, False, True, False] + [None] * 5
    assert invalid == [False] * 5 + [True] * 5
