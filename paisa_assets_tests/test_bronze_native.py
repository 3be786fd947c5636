"""Bronze's native path gives exactly the per-line path's rows and quarantine, batch by batch.

The per-line path (`parse_json_lines(..., native=False)`: orjson on each line) is bronze's
reference; the native path decodes the lines it can prove it decodes identically and hands the
rest back. Each test parses the same bytes both ways and compares every batch: its rows (values,
`_rescued_data`, `_line`) and its quarantine entries (line, raw text, reason).
"""

from __future__ import annotations

import gzip
import io
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paisa_assets.generator import generate_landing_zone
from paisa_assets.transforms import bronze_native
from paisa_assets.transforms.bronze_native import decode_lines, line_pattern
from paisa_assets.transforms.bronze_parse import parse_json_lines
from paisa_assets.transforms.schemas import BRONZE_METADATA_COLUMNS, BRONZE_REVIEWS_COLUMNS

COLUMNS = ("asin", "reviewerID", "overall", "verified", "style", "image", "vote")
KEYS = ("asin", "reviewerID")


def both_paths(payload: bytes, columns=COLUMNS, path: str = "r/p/a.json", **kwargs) -> list:
    """The batches of both paths, as plain values; asserts they are equal and returns them."""
    results = []
    for native in (False, True):
        batches = parse_json_lines(io.BytesIO(payload), path, columns, native=native, **kwargs)
        results.append([(b.rows.schema, b.rows.to_pylist(), b.quarantine) for b in batches])
    reference, native_result = results
    assert native_result == reference
    return [(rows, quarantine) for _, rows, quarantine in reference]


def rows_of(batches: list) -> list[dict]:
    return [row for rows, _ in batches for row in rows]


def quarantine_of(batches: list) -> list:
    return [entry for _, quarantine in batches for entry in quarantine]


HOSTILE_LINES = [
    b'{"asin":"B1","reviewerID":"R1","overall":5.0,"verified":true,"vote":"3"}',
    b'  {"asin" : "B2" , "reviewerID":"R2", "overall": 4.5 }  \r',
    b'{"asin":"B3","overall":1e5,"verified":false}',  # exponent: orjson writes 100000.0
    b'{"asin":"B4","overall":5.00}',  # trailing zero: orjson writes 5.0
    b'{"asin":"B5","overall":-0}',  # orjson writes 0
    b'{"asin":"B6","overall":-0.0}',
    b'{"asin":"B7","overall":12345678901234567890}',  # past int64
    b'{"asin":"B8","overall":0.000001}',  # orjson writes 1e-6
    b'{"asin":"B9","overall":123456789.123456789}',  # more digits than a double holds
    b'{"asin":"B10","overall":NaN}',
    b'{"asin":"B11","overall":null,"vote":null}',
    b'{"asin":"B12","asin":"B12b"}',  # duplicate key: orjson keeps the last
    b'{"asin":"B13","vote":"1","vote":null}',
    b'{"asin":"B14","style":{"Size:":"L","Size:":"XL"}}',  # nested duplicate
    b'{"asin":"B15","style":{"a":"1","\\u0061":"2"}}',  # the same key, spelled twice
    b'{"asin":"B16","style":{"Color:":" Red","asin":"x"}}',  # a nested key named like a column
    b'{"asin":"B17","style":{ "Size:" : "M" },"image":[ "u1" , "u2" ]}',  # whitespace inside
    b'{"asin":"B18","style":{"k":{"deep":"v"}},"image":[1,2.50,true,null]}',
    b'{"asin":"B19","extra":"rescued","other":{"b":1,"a":[2]}}',  # unknown fields
    b'{"asin":"B20","reviewerID":"R\\u00e9\\n\\t\\"q\\"\\\\\\/"}',  # escapes
    b'{"asin":"B21","reviewerID":"\\ud83d\\ude00"}',  # a surrogate pair
    b'{"asin":"B22","reviewerID":"\\ud800"}',  # a lone surrogate
    b'{"asin":"B23","reviewerID":"nul\\u0000byte"}',
    b'{"asin":"B24","style":{"k":"\\u001b\\u000b\\u007f\\u2028"}}',  # control escapes nested
    b'{"asin":"B25","vote":"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80"}',  # raw UTF-8
    b'{"asin":"B26","vote":"\xff\xfe"}',  # not UTF-8
    b'{"asin":123,"reviewerID":"R27"}',  # a key field that is not a string
    b'{"asin":"B28","reviewerID":["R28"]}',
    b'{"asin":"B29",}',  # trailing comma
    b'{"asin":"B30"} trailing',
    b'["B31"]',
    b'"B32"',
    b"42",
    b"null",
    b"",
    b"   \t",
    b"\x0c",
    b"{}",
    b'{"asin":"B39","overall":5.0',  # never closed
    b'{"asin":"B40","verified":True}',  # Python, not JSON
    b"{'asin':'B41'}",
    b'{"asin":"B42","style":' + b"[" * 300 + b"]" * 300 + b"}",  # deeper than orjson writes
    b'{"asin":"B43","image":' + b"[" * 200 + b"]" * 200 + b"}",
    b'{"asin":"B44","overall":1.5E+3,"vote":"\\u00E9"}',
    b'{"asin":"B45","overall":999999.999999,"vote":"0.001"}',
    b'{"asin":"B46","overall":0.001,"verified":0.01}',
    b'{"asin":"B47","overall":123456789012345678}',
    b'{"asin":"B48","overall":-123456789012345678}',
    b'{"asin":"B49","overall":-999999.5}',
    b'{"asin":"B50","image":[],"style":{}}',
    b'{"asin":"B51","reviewerID":"tab\there"}',  # a raw control character: invalid JSON
    b'\xef\xbb\xbf{"asin":"B52"}',  # a byte order mark inside the file
    b'{"asin":"B53"}\x00',
    b'{"ASIN":"B54"}',  # names are case-sensitive
    b'{"asin":"B55","overall":5.0,"overall":4.0}',
    b'{"asin":"B56","overall":"5.0"}',
]


@pytest.mark.parametrize("batch_rows", [1, 4, 50_000])
def test_hostile_lines_give_the_same_rows_and_quarantine_both_ways(batch_rows: int) -> None:
    payload = b"\n".join(HOSTILE_LINES) + b"\n"
    batches = both_paths(payload, batch_rows=batch_rows)
    rows, quarantine = rows_of(batches), quarantine_of(batches)
    assert len(rows) + len(quarantine) < len(HOSTILE_LINES)  # blank lines are neither
    assert {row["asin"] for row in rows} >= {"B1", "B3", "B12b", "B19", "B20", "B21"}
    assert len(quarantine) >= 15


def test_the_native_path_takes_the_plain_lines_and_hands_back_the_rest() -> None:
    """Without this, a native path that never decodes anything would pass every other test."""
    taken, values = decode_lines(HOSTILE_LINES, COLUMNS, KEYS)
    taken_asins = [
        orjson.loads(line).get("asin", "{}")
        for line, was_taken in zip(HOSTILE_LINES, taken.to_list(), strict=True)
        if was_taken
    ]
    assert taken_asins == ["B1", "B2", "B17", "B20", "B21", "B25", "{}"] + [
        f"B{n}" for n in (45, 46, 47, 48, 49, 50, 56)
    ]
    assert values.row(2, named=True)["style"] == '{"Size:":"M"}'
    assert values.row(2, named=True)["image"] == '["u1","u2"]'
    assert values.row(4, named=True)["reviewerID"] == "\U0001f600"
    assert values.row(3, named=True)["reviewerID"] == 'R\u00e9\n\t"q"\\/'


def test_a_block_an_engine_refuses_goes_to_the_per_line_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were the grammar ever to let through a line DuckDB cannot read, the block is parsed line
    by line instead of failing the bronze step."""
    monkeypatch.setattr(bronze_native, "line_pattern", lambda *_: r"^.*$")
    taken, values = decode_lines(HOSTILE_LINES, COLUMNS, KEYS)
    assert not taken.any() and values.height == 0
    both_paths(b"\n".join(HOSTILE_LINES), batch_rows=5)


def test_files_with_damage_and_gaps_give_the_same_batches() -> None:
    good = [orjson.dumps({"asin": f"A{i}", "overall": i / 2}) for i in range(40)]
    damaged = gzip.compress(b"\n".join(good[:25]) + b"\n" + b"\xff" * 3 + b"\n")[:-12]
    both_paths(damaged, path="r/p/a.json.gz", batch_rows=10)  # truncated mid-stream
    long_line = b'{"asin":"' + b"x" * 5000 + b'"}'
    mixed = b"\n".join([*good[:5], long_line, *good[5:], b"not json"])
    batches = both_paths(mixed, batch_rows=7, max_line_bytes=4096)
    assert quarantine_of(batches)[0][2].startswith("line of 5,011 bytes")
    both_paths(b"\xef\xbb\xbf" + b"\n".join(good), batch_rows=16)
    both_paths("\n".join(["{}"] * 3).encode("utf-16"))


def test_every_character_raw_and_escaped_gives_the_same_batches() -> None:
    """Each code point (the BMP whole, the rest sampled) raw and as a \\u escape, at the top
    level, in a nested array and as a nested object's key and value: DuckDB must write back
    exactly orjson's text, or the line must go to the per-line path."""
    points = [
        c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF and (c <= 0xFFFF or c % 251 == 0)
    ]
    lines = []
    for c in points:
        if c >= 0x20 and chr(c) not in '"\\':
            ch = chr(c)
            lines.append(f'{{"asin":"A{ch}","image":["{ch}"],"style":{{"{ch}":"{ch}","k":"v"}}}}')
        if c > 0xFFFF:  # as a surrogate pair, the way an ASCII-only writer escapes it
            pair = json.dumps(chr(c))[1:-1]
            high, low = 0xD800 + ((c - 0x10000) >> 10), 0xDC00 + ((c - 0x10000) & 0x3FF)
            upper = f"\\u{high:04X}\\u{low:04X}"
            lines.append(f'{{"asin":"{pair}","style":{{"{pair}":"{upper}"}},"image":["{upper}"]}}')
        else:
            esc, upper = f"\\u{c:04x}", f"\\u{c:04X}"
            lines.append(
                f'{{"asin":"{esc}","vote":"{upper}","style":{{"{esc}":"{upper}"}},"image":["{esc}"]}}'
            )
    payload = "\n".join(lines).encode()
    batches = both_paths(payload, batch_rows=20_000)
    assert len(rows_of(batches)) == len(lines)
    taken, _ = decode_lines([line.encode() for line in lines], COLUMNS, KEYS)
    assert taken.sum() > 0.9 * len(lines)


@pytest.fixture(scope="module")
def generated_landing(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("landing")
    generate_landing_zone(root, reviews=3000, review_partitions=2, metadata_partitions=1)
    return root


@pytest.mark.parametrize(
    ("dataset", "columns"),
    [("amazon_reviews", BRONZE_REVIEWS_COLUMNS), ("amazon_metadata", BRONZE_METADATA_COLUMNS)],
)
def test_generated_landing_files_give_the_same_batches(generated_landing, dataset, columns):
    files = sorted((generated_landing / dataset).glob("*/*"))
    assert files
    for file in files:
        payload = file.read_bytes()
        batches = both_paths(payload, columns=columns, path=str(file), batch_rows=997)
        lines = gzip.decompress(payload).split(b"\n")
        taken, _ = decode_lines(lines, columns, KEYS)
        assert taken.sum() > 0.9 * len(rows_of(batches))  # most rows take the native path


_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=12
) | st.sampled_from(["", " Red", 'a"b', "back\\slash", "\u2028", "\x00", "\x1b", "é", "😀"])
_floats = st.floats(allow_nan=False, allow_infinity=False) | st.decimals(
    places=3, allow_nan=False, allow_infinity=False, min_value=-(10**7), max_value=10**7
).map(float)
_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | _floats
)
_json = st.recursive(
    _scalars | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_names = st.sampled_from([*COLUMNS, "extra", "ASIN", "Size:"])


def _spell(value, spaced: bool) -> str:
    """JSON text of a value; with `spaced`, a spelling orjson would not write (indented)."""
    return json.dumps(value, indent=1 if spaced else None, ensure_ascii=spaced)


@st.composite
def _lines(draw) -> bytes:
    """A line: a JSON object with duplicate, unknown and oddly spelled members, or one from the
    native grammar itself, or noise."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        pattern = line_pattern(COLUMNS, KEYS)
        return draw(st.from_regex(pattern, fullmatch=True)).encode()
    if kind == 3:
        return draw(st.binary(max_size=30))
    members = draw(st.lists(st.tuples(_names, _json, st.booleans()), max_size=6))
    spaced = draw(st.booleans())
    body = ",".join(f"{json.dumps(k)}:{_spell(v, s and spaced)}" for k, v, s in members)
    return ("{" + body + "}").encode("utf-8", errors="surrogatepass")


@given(st.lists(_lines(), max_size=25), st.integers(1, 6))
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
def test_generated_lines_give_the_same_batches(lines: list[bytes], batch_rows: int) -> None:
    both_paths(b"\n".join(lines), batch_rows=batch_rows)


def repeats_a_key(line: bytes) -> bool:
    """Some object of the line repeats a key, or a nested object has a column's name as a key
    (the native path counts `"name":` tokens, nested ones included)."""
    objects: list[list[str]] = []  # each object's keys, innermost first, the line's last

    def pairs(members: list[tuple[str, object]]) -> dict:
        objects.append([key for key, _ in members])
        return dict(members)

    json.loads(line, object_pairs_hook=pairs)
    nested = objects[:-1]
    repeated = any(len(keys) != len(set(keys)) for keys in objects)
    return repeated or any(key in COLUMNS for keys in nested for key in keys)


@given(st.lists(st.from_regex(line_pattern(COLUMNS, KEYS), fullmatch=True), max_size=10))
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
def test_lines_of_the_native_grammar_decode_as_orjson_reads_them(lines: list[str]) -> None:
    encoded = [line.encode() for line in lines]
    taken, values = decode_lines(encoded, COLUMNS, KEYS)
    decoded = iter(values.to_dicts())
    for line, was_taken in zip(encoded, taken.to_list(), strict=True):
        record = orjson.loads(line)
        if not was_taken:  # only a repeated key may send a line of the grammar back
            assert repeats_a_key(line)
            continue
        expected = {
            name: None
            if (value := record.get(name)) is None
            else value
            if isinstance(value, str)
            else orjson.dumps(value).decode()
            for name in COLUMNS
        }
        assert next(decoded) == expected
