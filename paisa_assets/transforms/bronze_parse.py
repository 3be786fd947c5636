"""Turn the raw bytes of one landing file into bronze rows and quarantine rows.

Bronze keeps every value as it arrived: strings as they are, every other JSON value as its JSON
text, so nothing is lost to type coercion and typing mistakes are caught (and explained) in
silver. Top-level fields the contract does not name are kept in `_rescued_data`, as Auto
Loader does. A line that is not a JSON object, or bytes that cannot be decompressed, become a
quarantine row with a reason; every line before and after it still lands.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import orjson
import pyarrow as pa

SUPPORTED_SUFFIXES = (".json", ".jsonl", ".ndjson")
RAW_TEXT_LIMIT = 10_000  # characters of a bad line kept in quarantine; the line number locates it
# Longer lines are quarantined unread: parsing memory stays bounded whatever a file holds. Real
# reviews and product records are kilobytes; a line of this size is a broken or hostile file.
MAX_LINE_BYTES = 64 * 2**20
# orjson reads 1,024 levels of nesting but writes only 254: a value between the two is valid JSON
# that cannot be kept as JSON text, so its line is quarantined with this reason.
UNSTORABLE_NESTING = "nested deeper than bronze can store as JSON text (254 levels)"


@dataclass
class ParsedBatch:
    """Up to `batch_rows` good rows of a file and the quarantine entries met on the way."""

    rows: pa.Table
    quarantine: list[tuple[int | None, str | None, str]] = field(default_factory=list)


def is_supported(path: str) -> bool:
    name = path.lower().removesuffix(".gz")
    return name.endswith(SUPPORTED_SUFFIXES)


def bronze_data_schema(columns: Sequence[str]) -> pa.Schema:
    """The data part of a bronze table: every named column and `_rescued_data` as strings."""
    return pa.schema(
        [(name, pa.string()) for name in columns]
        + [("_rescued_data", pa.string()), ("_line", pa.int64())]
    )


def _shorten(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
    if len(text) > RAW_TEXT_LIMIT:
        return text[:RAW_TEXT_LIMIT] + f"... [{len(text) - RAW_TEXT_LIMIT} more characters]"
    return text


def _line_error(raw: bytes, error: Exception) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}"
    message = str(error).split("\n")[0]
    return f"invalid JSON: {message}"


class TruncatedFileError(OSError):
    """The compressed stream ended before its end-of-stream marker."""


def _gzip_chunks(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """Decompressed chunks of a (possibly multi-member) gzip stream, each at most `chunk_size`.

    Decompressing chunk by chunk, instead of through `gzip.GzipFile`, means every line that
    precedes a damaged or truncated region has already been handed over when the damage is hit.
    Output is bounded per call: a megabyte of gzip can inflate to a gigabyte (a zip bomb, or
    just a long run of one byte), which must not arrive in memory at once.
    """
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    started = False
    while data := stream.read(chunk_size):
        started = True
        while True:
            out = decompressor.decompress(data, chunk_size)
            if out:
                yield out
            if decompressor.eof:
                data = decompressor.unused_data  # the next gzip member, if any
                decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                started = bool(data)
                if not data:
                    break
                continue
            data = decompressor.unconsumed_tail
            if not data and len(out) < chunk_size:
                break  # everything inflated: more input is needed
    if started and not decompressor.eof:
        raise TruncatedFileError("compressed data ended before the end-of-stream marker")


def _plain_chunks(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    while chunk := stream.read(chunk_size):
        yield chunk


@dataclass(frozen=True)
class LongLine:
    """A line longer than the limit: its start (for the quarantine record) and its length."""

    head: bytes
    size: int


def _prefix(pieces: list[bytes], size: int) -> bytes:
    """The first `size` bytes of the pieces, without joining all of them."""
    head = bytearray()
    for piece in pieces:
        head += piece[: size - len(head)]
        if len(head) >= size:
            break
    return bytes(head)


def _lines(
    stream: BinaryIO, path: str, max_line_bytes: int, chunk_size: int = 1 << 20
) -> Iterator[bytes | LongLine]:
    """The lines of a file (without their newline), in memory bounded by `max_line_bytes` (plus
    a chunk).

    Only the new chunk is split, and an unfinished line is kept as a list of pieces, so a file
    with one enormous line costs linear time, not quadratic; past `max_line_bytes` the line's
    bytes are counted and dropped until its newline, and a `LongLine` stands for it. A UTF-8
    byte order mark that starts the file (Windows tools write one) is not part of the data.
    """
    chunks = _gzip_chunks if path.lower().endswith(".gz") else _plain_chunks
    chunk_size = min(chunk_size, max_line_bytes)  # a line inside one chunk is within the limit
    pieces: list[bytes] = []  # the unfinished line
    size = 0
    long_head: bytes | None = None  # set once the unfinished line passed the limit
    first = True
    for chunk in chunks(stream, chunk_size):
        if first:
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
            first = False
        lines = chunk.split(b"\n")
        if len(lines) > 1:
            pieces.append(lines[0])
            if long_head is None and size + len(lines[0]) <= max_line_bytes:
                yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
            else:
                head = long_head if long_head is not None else _prefix(pieces, RAW_TEXT_LIMIT * 4)
                yield LongLine(head, size + len(lines[0]))
            yield from lines[1:-1]
            pieces, size, long_head = [], 0, None
        tail = lines[-1]
        size += len(tail)
        if long_head is None:
            pieces.append(tail)
            if size > max_line_bytes:
                long_head = _prefix(pieces, RAW_TEXT_LIMIT * 4)
                pieces = []
    if long_head is not None:
        yield LongLine(long_head, size)
    elif size:
        yield b"".join(pieces)


def append_record(
    record: dict[str, object],
    column_buffers: Sequence[tuple[str, list[str | None]]],
    rescued_buffer: list[str | None],
    known: set[str],
) -> None:
    """Append one JSON object's values (as text) and its unknown fields to column buffers.

    Every value is converted before any is appended, so a value that cannot be written back as
    JSON (orjson.JSONEncodeError) leaves the buffers as they were.
    """
    dumps = orjson.dumps
    row: list[str | None] = []
    for name, _ in column_buffers:
        value = record.get(name)
        if value is not None and type(value) is not str:
            value = dumps(value).decode()
        row.append(value)  # type: ignore[arg-type]
    rescued: str | None = None
    if not record.keys() <= known:
        rescued = dumps({key: value for key, value in record.items() if key not in known}).decode()
    for (_, values), value in zip(column_buffers, row, strict=True):
        values.append(value)
    rescued_buffer.append(rescued)


def parse_json_lines(
    stream: BinaryIO,
    path: str,
    columns: Sequence[str],
    *,
    batch_rows: int = 50_000,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[ParsedBatch]:
    """Yield bronze batches of one file; never raises for bad content, only reports it.

    Memory stays bounded by `batch_rows` and `max_line_bytes` whatever the file holds.
    """
    known = set(columns)
    schema = bronze_data_schema(columns)
    if not is_supported(path):
        yield ParsedBatch(
            schema.empty_table(),
            [(None, None, "unsupported file type: expected .json, .jsonl or .ndjson (or .gz)")],
        )
        return
    buffers: dict[str, list[str | None]] = {name: [] for name in schema.names}
    quarantine: list[tuple[int | None, str | None, str]] = []
    line_number = 0
    loads = orjson.loads
    column_buffers = [(name, buffers[name]) for name in columns]
    rescued_buffer = buffers["_rescued_data"]

    def flush() -> ParsedBatch:
        table = pa.table(
            {name: pa.array(values, schema.field(name).type) for name, values in buffers.items()},
            schema=schema,
        )
        batch = ParsedBatch(table, list(quarantine))
        for values in buffers.values():
            values.clear()
        quarantine.clear()
        return batch

    try:
        for raw in _lines(stream, path, max_line_bytes):
            line_number += 1
            if isinstance(raw, LongLine):
                reason = f"line of {raw.size:,} bytes exceeds the {max_line_bytes:,}-byte limit"
                start = raw.head.decode("utf-8", errors="backslashreplace")[:RAW_TEXT_LIMIT]
                quarantine.append((line_number, f"{start}... [{raw.size:,} bytes]", reason))
                continue
            if not raw.strip():
                continue
            try:
                record = loads(raw)
            except orjson.JSONDecodeError as exc:
                quarantine.append((line_number, _shorten(raw), _line_error(raw, exc)))
                continue
            if not isinstance(record, dict):
                kind = type(record).__name__.replace("dict", "object").replace("list", "array")
                quarantine.append(
                    (line_number, _shorten(raw), f"not a JSON object: the line is a JSON {kind}")
                )
                continue
            try:
                append_record(record, column_buffers, rescued_buffer, known)
            except orjson.JSONEncodeError as exc:
                reason = f"{UNSTORABLE_NESTING}: {exc}"
                quarantine.append((line_number, _shorten(raw), reason))
                continue
            buffers["_line"].append(line_number)  # type: ignore[arg-type]
            if len(buffers["_line"]) >= batch_rows:
                yield flush()
    except (OSError, EOFError, zlib.error) as exc:
        quarantine.append(
            (None, None, f"unreadable file after line {line_number}: {type(exc).__name__}: {exc}")
        )
    yield flush()
