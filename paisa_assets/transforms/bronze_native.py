"""Bronze's fast path: decode a block of JSON lines in native code, only where that is exact.

Bronze's contract is what `orjson` makes of a line (`bronze_parse._LineParser`): string values as
decoded, every other value as orjson's compact JSON text, unknown fields in `_rescued_data`,
duplicate keys resolved last-wins, bad lines quarantined with a reason. Parsing a million lines
one by one in Python costs ~9 CPU-s; here Polars (Rust regex) and DuckDB (yyjson) decode a whole
block at once, and each line either takes this path or is handed back to the per-line one.

A line takes this path only when the result is provably the per-line path's:
- it is valid UTF-8 and matches a restricted JSON grammar (`line_pattern`): one object whose keys
  are the contract's column names written without escapes; values that are strings (no lone
  surrogate, no `\\u0000`), integers of at most 18 digits (never `-0`), decimals in a form that
  is already the shortest round-trip text orjson writes, `true`/`false`, or flat arrays and
  objects of strings. No `null` value, no unknown key, no nesting deeper than one level. orjson
  accepts every such line, and DuckDB writes each of these values back exactly as orjson does
  (the key fields `asin`/`reviewerID` must be strings, as the per-line path demands);
- no key occurs twice: DuckDB keeps the first of duplicate keys and orjson the last. The count
  of `"name":` tokens (each top-level key, plus any nested key that happens to carry a column's
  name) must equal the number of columns DuckDB found, and nested objects' keys are distinct.
Everything else (invalid JSON, non-objects, nulls, unknown fields, escapes DuckDB writes in
another spelling, any other number) goes to the per-line path, so the bronze rows and the
quarantine are the same either way; `paisa_assets_tests/test_bronze_native.py` checks it on
hostile and generated lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import duckdb
import polars as pl

from paisa_assets.duckdb_engine import in_memory_connection

_WS = r"[ \t\r]*"
_HEX = "[0-9a-fA-F]"
_SHORT_ESCAPE = r'\\["\\/bfnrt]'
# \u escapes: no lone surrogate (D800-DFFF: invalid UTF-8 to orjson; pairs are below), no
# \u0000 at the top level (a NUL inside a string), and inside nested
# values no control character (DuckDB writes \u001B where orjson writes \u001b).
_UNICODE_ESCAPE_TOP = (
    rf"\\u(?:[1-9a-cA-CeEfF]{_HEX}{{3}}|[dD][0-7]{_HEX}{{2}}|0[1-9a-fA-F]{_HEX}{{2}}"
    rf"|00[1-9a-fA-F]{_HEX}|000[1-9a-fA-F])"
)
_UNICODE_ESCAPE_NESTED = (
    rf"\\u(?:[1-9a-cA-CeEfF]{_HEX}{{3}}|[dD][0-7]{_HEX}{{2}}|0[1-9a-fA-F]{_HEX}{{2}}"
    rf"|00[2-9a-fA-F]{_HEX})"
)
# A high surrogate escape followed by a low one: one character beyond the BMP (an emoji written
# by an ASCII-only JSON writer), which both read alike.
_SURROGATE_PAIR = rf"\\u[dD][89abAB]{_HEX}{{2}}\\u[dD][c-fC-F]{_HEX}{{2}}"
_CHARACTER = r'[^"\\\x00-\x1F]'
STRING = rf'"(?:{_CHARACTER}|{_SHORT_ESCAPE}|{_UNICODE_ESCAPE_TOP}|{_SURROGATE_PAIR})*"'
NESTED_STRING = rf'"(?:{_CHARACTER}|{_SHORT_ESCAPE}|{_UNICODE_ESCAPE_NESTED}|{_SURROGATE_PAIR})*"'
# At most 18 digits: always an int64, so orjson writes it back digit for digit.
INTEGER = r"(?:0|-?[1-9][0-9]{0,17})"
# At most 12 significant digits (so the text is the shortest that round-trips), no trailing
# zero but "x.0", and a magnitude orjson writes in positional notation: [0.001, 1e6).
DECIMAL = r"-?(?:[1-9][0-9]{0,5}\.(?:0|[0-9]{0,5}[1-9])|0\.0{0,2}[1-9](?:[0-9]{0,3}[1-9])?)"
NESTED_ARRAY = rf"\[{_WS}(?:{NESTED_STRING}{_WS}(?:,{_WS}{NESTED_STRING}{_WS})*)?\]"
_NESTED_MEMBER = rf"{NESTED_STRING}{_WS}:{_WS}{NESTED_STRING}"
NESTED_OBJECT = rf"\{{{_WS}(?:{_NESTED_MEMBER}{_WS}(?:,{_WS}{_NESTED_MEMBER}{_WS})*)?\}}"
VALUE = rf"(?:{STRING}|{INTEGER}|{DECIMAL}|true|false|{NESTED_ARRAY}|{NESTED_OBJECT})"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_]+")


def _names(columns: Sequence[str]) -> str:
    return "|".join(re.escape(name) for name in columns)


@cache
def line_pattern(columns: tuple[str, ...], string_keys: tuple[str, ...]) -> str:
    """The lines this path takes: one JSON object of the grammar above; `string_keys` must be
    strings (bronze quarantines a key field of another JSON type)."""
    members = []
    others = [name for name in columns if name not in string_keys]
    if string_keys:
        members.append(rf'"(?:{_names(string_keys)})"{_WS}:{_WS}{STRING}')
    if others:
        members.append(rf'"(?:{_names(others)})"{_WS}:{_WS}{VALUE}')
    member = f"(?:{'|'.join(members)})"
    return rf"^{_WS}\{{{_WS}(?:{member}{_WS}(?:,{_WS}{member}{_WS})*)?\}}{_WS}$"


def supports(columns: Sequence[str]) -> bool:
    """Column names this path can match and address (plain identifiers, as the contracts')."""
    return bool(columns) and all(_PLAIN_NAME.fullmatch(name) for name in columns)


# A JSON string token. In DuckDB's compact text of a flat object of strings the tokens are the
# keys and values in turn (nothing outside them is a quote).
_STRING_TOKEN = r'(?s)"(?:[^"\\]|\\.)*"'


def _duplicate_free_objects(values: pl.DataFrame) -> pl.Series:
    """Per row: no nested object among its values repeats a key (orjson keeps the last).

    DuckDB writes keys decoded and re-escaped one way, so "a" and "\\u0061" compare equal here
    as they do for orjson. A string value that happens to start with "{" is checked too: at
    worst its line goes to the per-line path for nothing.
    """
    row = pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row")
    # Each key of a compact object is followed by '":': fewer than two, fewer than two keys.
    # (Filtered in two steps: the count runs on the few cells that start an object only.)
    several_keys = pl.col("cell").str.count_matches('":', literal=True) >= 2
    starts = values.select(pl.all().str.starts_with("{"))
    with_objects = [name for name in values.columns if starts[name].any()]
    if not with_objects:
        return pl.repeat(True, values.height, eager=True)
    cells = pl.concat(
        values.select(row, pl.col(name).alias("cell")).filter(starts[name]).filter(several_keys)
        for name in with_objects
    )
    keys = pl.col("cell").str.extract_all(_STRING_TOKEN).list.gather_every(2)
    repeated = cells.filter(keys.list.n_unique() < keys.list.len())["_row"]
    return ~pl.int_range(values.height, dtype=pl.UInt32, eager=True).is_in(repeated.implode())


def _utf8_or_none(line: bytes) -> str | None:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _utf8_texts(lines: Sequence[bytes]) -> pl.Series:
    """The lines as strings; null where a line is not UTF-8 (Polars refuses the whole column)."""
    try:
        return pl.Series("line", lines, dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.ComputeError:
        return pl.Series("line", [_utf8_or_none(line) for line in lines], dtype=pl.String)


def decode_lines(
    lines: Sequence[bytes], columns: Sequence[str], string_keys: Sequence[str]
) -> tuple[pl.Series, pl.DataFrame]:
    """Which lines this path decoded, and their values (one String column per contract column,
    in the order of the decoded lines).

    A line not taken (False) must be parsed by the per-line path; its row is not in the frame.
    """
    names = tuple(columns)
    try:
        return _decode(lines, names, tuple(string_keys))
    except (duckdb.Error, pl.exceptions.PolarsError):
        # Never a new way to fail: an engine refusing the block leaves it to the per-line path.
        nothing = pl.repeat(False, len(lines), dtype=pl.Boolean, eager=True).alias("line")
        return nothing, pl.DataFrame(schema=dict.fromkeys(names, pl.String))


def _decode(
    lines: Sequence[bytes], names: tuple[str, ...], string_keys: tuple[str, ...]
) -> tuple[pl.Series, pl.DataFrame]:
    texts = _utf8_texts(lines)
    matches = texts.str.contains(line_pattern(names, string_keys)).fill_null(False)
    candidates = texts.filter(matches)
    if candidates.len() == 0:
        return matches, pl.DataFrame(schema=dict.fromkeys(names, pl.String))
    key_tokens = candidates.str.count_matches(rf'"(?:{_names(names)})"{_WS}:')
    paths = ", ".join(f"'$.\"{name}\"'" for name in names)
    with in_memory_connection() as cursor:
        cursor.register("candidates", pl.DataFrame({"line": candidates}))
        decoded = cursor.sql(f"SELECT json_extract_string(line, [{paths}]) AS v FROM candidates")
        values = decoded.pl()["v"].list.to_struct(fields=list(names)).struct.unnest()
    found = values.select(pl.sum_horizontal(pl.all().is_not_null())).to_series()
    unique = (key_tokens == found) & _duplicate_free_objects(values)
    taken = matches.clone()
    taken[matches.arg_true()] = unique  # the candidates' verdicts, in place
    return taken, values.filter(unique)
