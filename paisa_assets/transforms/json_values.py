"""Decode JSON-text columns row by row without letting one bad row fail the batch.

Bronze stores every non-string value as its JSON text, and Polars' `str.json_decode` raises for
the whole column on the first malformed row (and silently turns numbers into strings when asked
for a list of strings). So each decoder first checks every row against the JSON grammar with a
regular expression (vectorised, linear time), decodes only the rows that passed, and reports the
others in an `invalid` mask: null input -> null value and not invalid, valid -> value, anything
else -> null value and invalid. Python is only used for the rare rows a regular expression
cannot settle (nested JSON objects), or if Polars' decoder rejects a row the grammar accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

import orjson
import polars as pl

from paisa_assets.transforms.rowwise import apply_where, map_python, on_present_rows, where

T = TypeVar("T", pl.Series, pl.Expr)


class Parsed(NamedTuple, Generic[T]):
    """A decoded column and the rows that were present but could not be decoded."""

    value: T
    invalid: T


# JSON grammar pieces (RFC 8259). Character classes are ASCII on purpose: in the regex engine's
# Unicode mode `\d` and `\s` would also accept digits and spaces that JSON does not.
_WS = r"[ \t\n\r]*"
_STRING = r'"(?:[^"\\\x00-\x1F]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_SCALAR = rf"(?:{_STRING}|{_NUMBER}|true|false|null)"
_MEMBER = rf"{_STRING}{_WS}:{_WS}{_SCALAR}"

STRING_ARRAY_PATTERN = rf"^{_WS}\[{_WS}(?:{_STRING}{_WS}(?:,{_WS}{_STRING}{_WS})*)?\]{_WS}$"
FLAT_OBJECT_PATTERN = rf"^{_WS}\{{{_WS}(?:{_MEMBER}{_WS}(?:,{_WS}{_MEMBER}{_WS})*)?\}}{_WS}$"
_OBJECT_LIKE_PATTERN = rf"^{_WS}\{{[\s\S]*\}}{_WS}$"

# The compact form written by orjson (bronze) with no escape sequence: its strings can be cut
# apart at '","' without a JSON parser, several times faster than `str.json_decode`.
_PLAIN = r'[^"\\\x00-\x1F]*'
_COMPACT_PLAIN_ARRAY_PATTERN = rf'^\["{_PLAIN}"(?:,"{_PLAIN}")*\]$'

# Whitespace outside JSON strings is insignificant: keep every string token, drop the rest.
_STRING_OR_WHITESPACE = r'("(?:[^"\\]|\\[\s\S])*")|[ \t\n\r]+'
# Matches when whitespace occurs outside the strings: only those rows need compacting (orjson's
# output, i.e. all of bronze's own JSON text, never does).
_WHITESPACE_OUTSIDE_STRINGS = r'^(?:[^" \t\n\r]|"(?:[^"\\]|\\[\s\S])*")*[ \t\n\r]'

_STRING_LIST = pl.List(pl.String())


def _split_compact_plain(texts: pl.Series) -> pl.Series:
    inner = texts.str.slice(2, texts.str.len_chars() - 4)
    return inner.str.split('","')


def _python_string_arrays(texts: pl.Series) -> pl.Series:
    """Fallback decoder: only reached if Polars rejects text the grammar accepted."""
    return pl.Series(
        texts.name,
        [None if text is None else orjson.loads(text) for text in texts.to_list()],
        dtype=_STRING_LIST,
    )


def _json_decode_string_arrays(texts: pl.Series) -> pl.Series:
    try:
        return texts.str.json_decode(_STRING_LIST)
    except pl.exceptions.ComputeError:
        return _python_string_arrays(texts)


def decode_string_array(texts: pl.Series) -> Parsed[pl.Series]:
    """JSON-array-of-strings text -> List[String], plus the rows that are not such an array.

    `[]` is a valid, empty list; `[1, 2]`, `"x"`, `null` (as text) and malformed JSON are invalid.
    """
    value, invalid = on_present_rows(texts.cast(pl.String), _decode_string_array)
    return Parsed(value, invalid)


def _decode_string_array(texts: pl.Series) -> tuple[pl.Series, pl.Series]:
    valid = texts.str.contains(STRING_ARRAY_PATTERN).fill_null(False)
    plain = texts.str.contains(_COMPACT_PLAIN_ARRAY_PATTERN).fill_null(False)
    values = pl.select(
        pl.when(plain)
        .then(_split_compact_plain(where(plain, texts)))
        .otherwise(_json_decode_string_arrays(where(valid & ~plain, texts)))
    ).to_series()
    return values.alias(texts.name), _present_but(texts, valid)


def _present_but(texts: pl.Series, valid: pl.Series) -> pl.Series:
    """Invalid = present (not null) and not valid; never null, so it can be summed or filtered."""
    return (texts.is_not_null() & ~valid.fill_null(False)).alias(texts.name)


def _object_or_null(text: str) -> str | None:
    try:
        return text if isinstance(orjson.loads(text), dict) else None
    except orjson.JSONDecodeError:
        return None


def _valid_objects(texts: pl.Series) -> pl.Series:
    """The rows that are JSON objects, else null. The grammar check cannot recurse, so the few
    `{...}` rows that fail it (nested values) are settled by a real parser."""
    flat = texts.str.contains(FLAT_OBJECT_PATTERN).fill_null(False)
    suspects = ~flat & texts.str.contains(_OBJECT_LIKE_PATTERN).fill_null(False)
    return map_python(where(flat | suspects, texts), suspects, _object_or_null)


def _compact(texts: pl.Series) -> pl.Series:
    return texts.str.replace_all(_STRING_OR_WHITESPACE, "${1}")


def compact_json(texts: pl.Series) -> pl.Series:
    """Remove insignificant whitespace from valid JSON text, leaving everything else as written.

    A textual rewrite (not parse and re-serialise) so the result is the same on the vectorised
    and the Python path, and numbers and escapes keep their exact spelling.
    """
    texts = texts.cast(pl.String)
    return apply_where(texts, texts.str.contains(_WHITESPACE_OUTSIDE_STRINGS), _compact)


def normalise_json_object(texts: pl.Series) -> Parsed[pl.Series]:
    """JSON-object text -> compact JSON-object text, plus the rows that are not a JSON object."""
    value, invalid = on_present_rows(texts.cast(pl.String), _normalise_json_object)
    return Parsed(value, invalid)


def _normalise_json_object(texts: pl.Series) -> tuple[pl.Series, pl.Series]:
    objects = _valid_objects(texts)
    return compact_json(objects).alias(texts.name), _present_but(texts, objects.is_not_null())


_INTEGER_PATTERN = r"^\s*[+-]?[0-9]+\s*$"
_GROUPED_INTEGER_PATTERN = r"^\s*[+-]?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)\s*$"
_DECIMAL_PATTERN = r"^\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$"


def _cast_matching(
    text: pl.Expr, pattern: str, dtype: pl.DataType, separator: str = ""
) -> Parsed[pl.Expr]:
    """Cast the rows matching `pattern` (with `separator` deleted); a present row that does not
    match, or overflows `dtype`, is invalid."""
    cleaned = text.str.replace_all(separator, "", literal=True) if separator else text
    value = (
        pl.when(text.str.contains(pattern))
        .then(cleaned.str.strip_chars())
        .cast(dtype, strict=False)
    )
    return Parsed(value, text.is_not_null() & value.is_null())


def parse_integer(text: pl.Expr, *, thousands: bool = False) -> Parsed[pl.Expr]:
    """Integer text (surrounding whitespace and a sign allowed) -> Int64.

    With `thousands`, comma groups of exactly three digits are also accepted ("1,234" -> 1234),
    so a malformed grouping such as "1,23" stays invalid instead of silently becoming 123.
    """
    if thousands:
        return _cast_matching(text, _GROUPED_INTEGER_PATTERN, pl.Int64(), ",")
    return _cast_matching(text, _INTEGER_PATTERN, pl.Int64())


def parse_decimal(text: pl.Expr) -> Parsed[pl.Expr]:
    """Decimal number text ("5", "5.0", "4.", ".5", "1e0") -> Float64.

    Stricter than a float cast, which would also accept "NaN" and "inf" as numbers.
    """
    return _cast_matching(text, _DECIMAL_PATTERN, pl.Float64())


def parse_boolean(text: pl.Expr) -> Parsed[pl.Expr]:
    """JSON boolean text -> Boolean; case and surrounding whitespace are ignored ("True" is
    what Python-written producers emit)."""
    word = text.str.strip_chars().str.to_lowercase()
    value = pl.when(word == "true").then(True).when(word == "false").then(False)
    return Parsed(value, text.is_not_null() & value.is_null())


def parse_present(
    texts: pl.Series, parse: Callable[[pl.Expr], Parsed[pl.Expr]]
) -> Parsed[pl.Series]:
    """`parse` (one of the parsers above) evaluated on the non-null rows of `texts` only: for a
    mostly-null column (a review's vote), see `on_present_rows`."""

    def decode(present: pl.Series) -> tuple[pl.Series, pl.Series]:
        parsed = parse(pl.col(present.name))
        frame = present.to_frame().select(value=parsed.value, invalid=parsed.invalid)
        return frame["value"].alias(present.name), frame["invalid"].alias(present.name)

    value, invalid = on_present_rows(texts, decode)
    return Parsed(value, invalid)
