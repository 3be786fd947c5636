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

from typing import Generic, NamedTuple, TypeVar

import orjson
import polars as pl

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

# Whitespace outside JSON strings is insignificant: keep every string token, drop the rest.
_STRING_OR_WHITESPACE = r'("(?:[^"\\]|\\[\s\S])*")|[ \t\n\r]+'
_JSON_WHITESPACE = r"[ \t\n\r]"

_STRING_LIST = pl.List(pl.String())


def _where(mask: pl.Series, values: pl.Series) -> pl.Series:
    """`values` where `mask` is true, null elsewhere (mask nulls count as false)."""
    return pl.select(pl.when(mask).then(values)).to_series().alias(values.name)


def _python_string_arrays(texts: pl.Series) -> pl.Series:
    """Fallback decoder: only reached if Polars rejects text the grammar accepted."""
    return pl.Series(
        texts.name,
        [None if text is None else orjson.loads(text) for text in texts.to_list()],
        dtype=_STRING_LIST,
    )


def decode_string_array(texts: pl.Series) -> Parsed[pl.Series]:
    """JSON-array-of-strings text -> List[String], plus the rows that are not such an array.

    `[]` is a valid, empty list; `[1, 2]`, `"x"`, `null` (as text) and malformed JSON are invalid.
    """
    texts = texts.cast(pl.String)
    valid = texts.str.contains(STRING_ARRAY_PATTERN)
    candidates = _where(valid, texts)
    try:
        values = candidates.str.json_decode(_STRING_LIST)
    except pl.exceptions.ComputeError:
        values = _python_string_arrays(candidates)
    return Parsed(values.alias(texts.name), _present_but(texts, valid))


def _present_but(texts: pl.Series, valid: pl.Series) -> pl.Series:
    """Invalid = present (not null) and not valid; never null, so it can be summed or filtered."""
    return (texts.is_not_null() & ~valid.fill_null(False)).alias(texts.name)


def _is_python_object(text: str) -> bool:
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False


def _nested_objects(texts: pl.Series, flat: pl.Series) -> pl.Series:
    """Mask of the rows that are JSON objects with nested values (the grammar check cannot
    recurse, so the few `{...}` rows that failed it are settled by a real parser)."""
    suspects = (~flat.fill_null(False) & texts.str.contains(_OBJECT_LIKE_PATTERN)).fill_null(False)
    nested = pl.Series(texts.name, [False] * len(texts), dtype=pl.Boolean)
    indices = suspects.arg_true()
    if len(indices):
        checks = [_is_python_object(text) for text in texts.gather(indices).to_list()]
        nested.scatter(indices, checks)
    return nested


def compact_json(texts: pl.Series) -> pl.Series:
    """Remove insignificant whitespace from valid JSON text, leaving everything else as written.

    A textual rewrite (not parse and re-serialise) so the result is the same on the vectorised
    and the Python path, and numbers and escapes keep their exact spelling.
    """
    spaced = texts.str.contains(_JSON_WHITESPACE)
    compacted = texts.str.replace_all(_STRING_OR_WHITESPACE, "${1}")
    return pl.select(pl.when(spaced).then(compacted).otherwise(texts)).to_series()


def normalise_json_object(texts: pl.Series) -> Parsed[pl.Series]:
    """JSON-object text -> compact JSON-object text, plus the rows that are not a JSON object."""
    texts = texts.cast(pl.String)
    flat = texts.str.contains(FLAT_OBJECT_PATTERN)
    valid = flat.fill_null(False) | _nested_objects(texts, flat)
    values = compact_json(_where(valid, texts)).alias(texts.name)
    return Parsed(values, _present_but(texts, valid))


_INTEGER_PATTERN = r"^\s*[+-]?[0-9]+\s*$"
_GROUPED_INTEGER_PATTERN = r"^\s*[+-]?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)\s*$"
_DECIMAL_PATTERN = r"^\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$"


def _typed_where(text: pl.Expr, pattern: str, dtype: pl.DataType, strip: str) -> Parsed[pl.Expr]:
    """Cast the rows matching `pattern` (after deleting `strip` characters); a present row that
    does not match, or overflows `dtype`, is invalid."""
    cleaned = text.str.replace_all(strip, "", literal=True) if strip else text
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
        return _typed_where(text, _GROUPED_INTEGER_PATTERN, pl.Int64(), ",")
    return _typed_where(text, _INTEGER_PATTERN, pl.Int64(), "")


def parse_decimal(text: pl.Expr) -> Parsed[pl.Expr]:
    """Decimal number text ("5", "5.0", "4.", ".5", "1e0") -> Float64.

    Stricter than a float cast, which would also accept "NaN" and "inf" as numbers.
    """
    return _typed_where(text, _DECIMAL_PATTERN, pl.Float64(), "")


def parse_boolean(text: pl.Expr) -> Parsed[pl.Expr]:
    """ "true"/"false" (JSON booleans; case and surrounding whitespace ignored) -> Boolean."""
    word = text.str.strip_chars().str.to_lowercase()
    value = pl.when(word == "true").then(True).when(word == "false").then(False)
    return Parsed(value, text.is_not_null() & value.is_null())
