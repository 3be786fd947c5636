"""Bronze parsing: values kept as they arrived, bad lines quarantined, the rest lands."""

from __future__ import annotations

import gzip
import io

import orjson

from paisa_assets.transforms.bronze_parse import parse_json_lines

COLUMNS = ("asin", "overall", "verified", "style", "image", "vote")


def parse(payload: bytes, path: str = "amazon_reviews/partition_0/part-0.json.gz", **kwargs):
    batches = list(parse_json_lines(io.BytesIO(payload), path, COLUMNS, **kwargs))
    rows = [row for batch in batches for row in batch.rows.to_pylist()]
    quarantine = [entry for batch in batches for entry in batch.quarantine]
    return rows, quarantine


def gz(*lines: bytes) -> bytes:
    return gzip.compress(b"\n".join(lines) + b"\n", mtime=0)


def test_values_are_kept_as_their_text_and_unknown_fields_are_rescued() -> None:
    line = orjson.dumps(
        {
            "asin": "B01",
            "overall": 5.0,
            "verified": True,
            "style": {"Size:": " Large"},
            "image": ["https://x/1.jpg"],
            "vote": "1,234",
            "new_field": {"a": 1},
        }
    )
    rows, quarantine = parse(gz(line))
    assert quarantine == []
    assert rows == [
        {
            "asin": "B01",
            "overall": "5.0",
            "verified": "true",
            "style": '{"Size:":" Large"}',
            "image": '["https://x/1.jpg"]',
            "vote": "1,234",
            "_rescued_data": '{"new_field":{"a":1}}',
            "_line": 1,
        }
    ]


def test_bad_lines_are_quarantined_with_reason_and_the_rest_lands() -> None:
    payload = gz(
        b'{"asin": "A1", "overall": 4.0}',
        b'{"asin": "A2", "overall": 3.0, "revie',
        b"",
        b'["not", "an", "object"]',
        b'{"asin": "A\xff\xfe"}',
        b'{"asin": "A3"}',
    )
    rows, quarantine = parse(payload)
    assert [(r["asin"], r["_line"]) for r in rows] == [("A1", 1), ("A3", 6)]
    assert [(line, reason.split(":")[0]) for line, _, reason in quarantine] == [
        (2, "invalid JSON"),
        (4, "not a JSON object"),
        (5, "invalid UTF-8 at byte 11"),
    ]
    assert quarantine[0][1] == '{"asin": "A2", "overall": 3.0, "revie'
    assert quarantine[1][2] == "not a JSON object: the line is a JSON array"
    assert quarantine[2][1] == '{"asin": "A\\xff\\xfe"}'


def test_truncated_gzip_keeps_the_lines_before_the_damage() -> None:
    lines = [orjson.dumps({"asin": f"A{i}", "overall": 5.0}) for i in range(2000)]
    payload = gz(*lines)
    rows, quarantine = parse(payload[: len(payload) // 2])
    assert 0 < len(rows) < 2000
    assert [r["asin"] for r in rows] == [f"A{i}" for i in range(len(rows))]
    assert len(quarantine) == 1
    line, raw, reason = quarantine[0]
    assert line is None and raw is None
    assert reason.startswith(f"unreadable file after line {len(rows)}: TruncatedFileError")


def test_corrupt_gzip_is_one_quarantine_row() -> None:
    rows, quarantine = parse(b"this is not gzip at all")
    assert rows == []
    assert [reason for _, _, reason in quarantine] == [
        "unreadable file from its start: not a gzip file "
        "(the name ends in .gz but the bytes are not gzip)"
    ]


def test_empty_file_gives_no_rows_and_no_quarantine() -> None:
    assert parse(gzip.compress(b"", mtime=0)) == ([], [])
    assert parse(b"", path="amazon_reviews/partition_0/plain.json") == ([], [])


def test_uncompressed_json_lines_and_unsupported_types() -> None:
    rows, quarantine = parse(b'{"asin": "A1"}\n', path="x/p/a.jsonl")
    assert [r["asin"] for r in rows] == ["A1"] and quarantine == []
    rows, quarantine = parse(b"a,b\n1,2\n", path="x/p/a.csv")
    assert rows == []
    assert quarantine == [
        (None, None, "unsupported file type: expected .json, .jsonl or .ndjson (or .gz)")
    ]


def test_batches_bound_memory_and_keep_line_numbers() -> None:
    lines = [orjson.dumps({"asin": f"A{i}"}) for i in range(25)]
    batches = list(
        parse_json_lines(io.BytesIO(gz(*lines)), "x/p/a.json.gz", COLUMNS, batch_rows=10)
    )
    assert [b.rows.num_rows for b in batches] == [10, 10, 5]
    assert batches[2].rows.column("_line").to_pylist() == [21, 22, 23, 24, 25]


def test_a_huge_line_is_kept_whole_in_bronze_and_cut_in_quarantine() -> None:
    text = "x" * 10_000_000
    good = orjson.dumps({"asin": "A1", "style": {"note": text}})
    bad = b'{"asin": "' + text.encode()  # never closed
    rows, quarantine = parse(gz(good, bad))
    assert len(rows[0]["style"]) == len(text) + len('{"note":""}')
    assert quarantine[0][0] == 2
    assert quarantine[0][1].endswith("more characters]")
    assert len(quarantine[0][1]) < 10_100


def test_json_nested_deeper_than_can_be_stored_is_quarantined_and_the_file_goes_on() -> None:
    """orjson reads 1,024 levels but writes 254: such a value, in a contract column or an
    unknown one, used to abort the whole file's ingestion."""
    deep = "[" * 300 + "]" * 300
    kept = "[" * 200 + "]" * 200
    data = (
        f'{{"asin":"A","style":{deep}}}\n{{"asin":"B","style":{kept}}}\n'
        f'{{"asin":"C","extra":{deep}}}\n{{"asin":"D"}}\n'
    ).encode()
    (batch,) = parse_json_lines(io.BytesIO(data), "deep.json", ["asin", "style"])
    assert batch.rows.column("asin").to_pylist() == ["B", "D"]
    assert batch.rows.column("_line").to_pylist() == [2, 4]
    assert batch.rows.column("style").to_pylist() == [kept, None]
    assert [(line, reason.split(":")[0]) for line, _, reason in batch.quarantine] == [
        (1, "nested deeper than bronze can store as JSON text (254 levels)"),
        (3, "nested deeper than bronze can store as JSON text (254 levels)"),
    ]


def test_keys_that_are_not_json_strings_are_quarantined_with_their_kind() -> None:
    columns = ("asin", "reviewerID", "overall")
    lines = [
        {"asin": "B1", "reviewerID": "R1"},
        {"asin": 123, "reviewerID": "R1"},
        {"asin": {"id": "B1"}, "reviewerID": "R1"},
        {"asin": ["B1"], "reviewerID": "R1"},
        {"asin": True, "reviewerID": 42.5},
        {"asin": "B2", "reviewerID": 7},
        {"asin": None, "reviewerID": "R1"},  # null and missing keys are silver's to judge
        {"reviewerID": "R3"},
        {"asin": "  ", "reviewerID": "R1"},
    ]
    payload = b"\n".join(orjson.dumps(line) for line in lines)
    batches = list(parse_json_lines(io.BytesIO(payload), "r/p/a.json", columns))
    rows = [row for batch in batches for row in batch.rows.to_pylist()]
    quarantine = [(line, reason) for batch in batches for line, _, reason in batch.quarantine]
    assert [row["_line"] for row in rows] == [1, 7, 8, 9]
    numeric_reviewer = "reviewerID is not a JSON string: a JSON number"
    assert quarantine == [
        (2, "asin is not a JSON string: a JSON number"),
        (3, "asin is not a JSON string: a JSON object"),
        (4, "asin is not a JSON string: a JSON array"),
        (5, f"asin is not a JSON string: a JSON boolean; {numeric_reviewer}"),
        (6, "reviewerID is not a JSON string: a JSON number"),
    ]


def test_utf16_and_utf32_files_name_their_encoding() -> None:
    text = '{"asin": "B1"}\n{"asin": "B2"}\n'
    for encoding, name in [
        ("utf-16", "UTF-16-LE"),
        ("utf-16-be", "UTF-16-BE"),
        ("utf-16-le", "UTF-16-LE"),
        ("utf-32", "UTF-32-LE"),
    ]:
        rows, quarantine = parse(text.encode(encoding), path="r/p/a.json")
        assert rows == []
        assert len(quarantine) == 1, encoding
        assert quarantine[0][2].startswith(f"unreadable file from its start: the file is {name} ")
        assert f"iconv -f {name} -t UTF-8" in quarantine[0][2]
    rows, quarantine = parse(b"\xef\xbb\xbf" + text.encode(), path="r/p/a.json")
    assert [r["asin"] for r in rows] == ["B1", "B2"] and quarantine == []


def test_a_file_that_cannot_be_opened_is_one_quarantine_row() -> None:
    from dataclasses import dataclass

    from paisa_assets.transforms.parallel_parse import FileParser

    @dataclass(frozen=True)
    class File:
        path: str
        size: int = 10

    def open_file(path: str):
        if path.endswith("locked.json"):
            raise PermissionError(13, "Permission denied", path)
        if path.endswith("gone.json"):
            raise FileNotFoundError(2, "No such file or directory", path)
        return io.BytesIO(b'{"asin": "B1"}\n')

    files = [File("r/p/locked.json"), File("r/p/gone.json"), File("r/p/ok.json")]
    seen = {}
    with FileParser(workers=0) as parser:
        for file, batches in parser.parse(files, open_file, COLUMNS):
            batches = list(batches)
            seen[file.path] = (
                sum(b.rows.num_rows for b in batches),
                [reason for b in batches for _, _, reason in b.quarantine],
            )
    assert seen == {
        "r/p/locked.json": (0, ["unreadable file: PermissionError: Permission denied"]),
        "r/p/gone.json": (
            0,
            ["unreadable file: it vanished after it was listed (deleted or moved)"],
        ),
        "r/p/ok.json": (1, []),
    }
