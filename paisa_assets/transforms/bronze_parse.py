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
import polars as pl
import pyarrow as pa

from paisa_assets.arrow_build import as_table, empty_table, table_from_columns
from paisa_assets.transforms.bronze_native import decode_lines, supports

SUPPORTED_SUFFIXES = (".json", ".jsonl", ".ndjson")
RAW_TEXT_LIMIT = 10_000  # characters of a bad line kept in quarantine; the line number locates it
# Longer lines are quarantined unread: parsing memory stays bounded whatever a file holds. Real
# reviews and product records are kilobytes; a line of this size is a broken or hostile file.
MAX_LINE_BYTES = 64 * 2**20
# Bytes of lines decoded at once by the native path (a block also ends at `batch_rows` lines).
NATIVE_BLOCK_BYTES = 64 * 2**20
# orjson reads 1,024 levels of nesting but writes only 254: a value between the two is valid JSON
# that cannot be kept as JSON text, so its line is quarantined with this reason.
UNSTORABLE_NESTING = "nested deeper than bronze can store as JSON text (254 levels)"
# Key fields must arrive as JSON strings: bronze keeps other values as JSON text, after which a
# number 123 and a string "123" (or an object's text) could no longer be told apart in silver.
KEY_FIELDS = ("asin", "reviewerID")
_JSON_KINDS = {bool: "boolean", int: "number", float: "number", dict: "object", list: "array"}


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


class NotUtf8Error(ValueError):
    """The file is in another Unicode encoding: every line would be "invalid UTF-8"."""


# Byte order marks, longest first (UTF-32-LE starts with UTF-16-LE's mark), and the NUL pattern
# of a JSON object written in that encoding without a mark.
_ENCODINGS = (
    (b"\xff\xfe\x00\x00", b"{\x00\x00\x00", "UTF-32-LE"),
    (b"\x00\x00\xfe\xff", b"\x00\x00\x00{", "UTF-32-BE"),
    (b"\xff\xfe", b"{\x00", "UTF-16-LE"),
    (b"\xfe\xff", b"\x00{", "UTF-16-BE"),
)


def check_utf8_start(chunk: bytes) -> None:
    """Raise NotUtf8Error, naming the encoding, for a file that starts as UTF-16 or UTF-32."""
    for mark, bare, name in _ENCODINGS:
        if chunk.startswith(mark) or chunk.startswith(bare):
            how = "byte order mark" if chunk.startswith(mark) else "NUL bytes between characters"
            raise NotUtf8Error(
                f"the file is {name} ({how}); landing files must be UTF-8 JSON lines "
                f"(convert with: iconv -f {name} -t UTF-8)"
            )


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

    def __len__(self) -> int:
        """The bytes held (the head), for the native path's block budget."""
        return len(self.head)


def _prefix(pieces: list[bytes], size: int) -> bytes:
    """The first `size` bytes of the pieces, without joining all of them."""
    head = bytearray()
    for piece in pieces:
        head += piece[: size - len(head)]
        if len(head) >= size:
            break
    return bytes(head)


def _line_groups(
    stream: BinaryIO, path: str, max_line_bytes: int, chunk_size: int = 1 << 20
) -> Iterator[list[bytes | LongLine]]:
    """The lines of a file (without their newline), a chunk's worth at a time, in memory
    bounded by `max_line_bytes` (plus a chunk).

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
            check_utf8_start(chunk)
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
            first = False
        lines = chunk.split(b"\n")
        if len(lines) > 1:
            pieces.append(lines[0])
            group: list[bytes | LongLine]
            if long_head is None and size + len(lines[0]) <= max_line_bytes:
                group = [pieces[0] if len(pieces) == 1 else b"".join(pieces)]
            else:
                head = long_head if long_head is not None else _prefix(pieces, RAW_TEXT_LIMIT * 4)
                group = [LongLine(head, size + len(lines[0]))]
            group += lines[1:-1]
            yield group
            pieces, size, long_head = [], 0, None
        tail = lines[-1]
        size += len(tail)
        if long_head is None:
            pieces.append(tail)
            if size > max_line_bytes:
                long_head = _prefix(pieces, RAW_TEXT_LIMIT * 4)
                pieces = []
    if long_head is not None:
        yield [LongLine(long_head, size)]
    elif size:
        yield [b"".join(pieces)]


def key_violations(record: dict[str, object], keys: Sequence[str]) -> str | None:
    """Why the record's key fields are unusable as keys, or None (absent, null or a string:
    silver judges blank and missing values)."""
    reasons = [
        f"{key} is not a JSON string: a JSON {_JSON_KINDS.get(type(value), type(value).__name__)}"
        for key in keys
        if (value := record.get(key)) is not None and type(value) is not str
    ]
    return "; ".join(reasons) or None


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


Quarantined = tuple[int | None, str | None, str]


class _LineParser:
    """The per-line path: `orjson` on one line at a time, values gathered in column buffers.

    This is bronze's reference behaviour; the native path (`bronze_native`) hands it every line
    it cannot decode exactly the same way.
    """

    def __init__(self, columns: Sequence[str], max_line_bytes: int) -> None:
        self.known = set(columns)
        self.schema = bronze_data_schema(columns)
        self.max_line_bytes = max_line_bytes
        self.buffers: dict[str, list[str | None]] = {name: [] for name in self.schema.names}
        self.quarantine: list[Quarantined] = []
        self.column_buffers = [(name, self.buffers[name]) for name in columns]
        self.keys = [name for name in KEY_FIELDS if name in self.known]
        self.lines: list[int] = self.buffers["_line"]  # type: ignore[assignment]

    def add(self, raw: bytes | LongLine, line_number: int) -> None:
        """Parse one line into a row or a quarantine entry (a blank line is neither)."""
        quarantine = self.quarantine
        if isinstance(raw, LongLine):
            reason = f"line of {raw.size:,} bytes exceeds the {self.max_line_bytes:,}-byte limit"
            start = raw.head.decode("utf-8", errors="backslashreplace")[:RAW_TEXT_LIMIT]
            quarantine.append((line_number, f"{start}... [{raw.size:,} bytes]", reason))
            return
        if not raw.strip():
            return
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            quarantine.append((line_number, _shorten(raw), _line_error(raw, exc)))
            return
        if not isinstance(record, dict):
            kind = type(record).__name__.replace("dict", "object").replace("list", "array")
            quarantine.append(
                (line_number, _shorten(raw), f"not a JSON object: the line is a JSON {kind}")
            )
            return
        if self.keys and (bad_keys := key_violations(record, self.keys)):
            quarantine.append((line_number, _shorten(raw), bad_keys))
            return
        try:
            append_record(record, self.column_buffers, self.buffers["_rescued_data"], self.known)
        except orjson.JSONEncodeError as exc:
            quarantine.append((line_number, _shorten(raw), f"{UNSTORABLE_NESTING}: {exc}"))
            return
        self.lines.append(line_number)

    def flush(self) -> ParsedBatch:
        batch = ParsedBatch(table_from_columns(self.buffers, self.schema), list(self.quarantine))
        for values in self.buffers.values():
            values.clear()
        self.quarantine.clear()
        return batch


def _per_line(
    groups: Iterator[list[bytes | LongLine]], parser: _LineParser, batch_rows: int
) -> Iterator[ParsedBatch]:
    """Every line through the per-line path; a batch as soon as it holds `batch_rows` rows."""
    line_number = 0
    try:
        for group in groups:
            for raw in group:
                line_number += 1
                parser.add(raw, line_number)
                if len(parser.lines) >= batch_rows:
                    yield parser.flush()
    except (OSError, EOFError, zlib.error, NotUtf8Error) as exc:
        parser.quarantine.append((None, None, unreadable_reason(exc, line_number)))
    yield parser.flush()


class _Rebatcher:
    """Cuts a file's rows and quarantine entries (each in line order, block by block) into the
    batches the per-line path yields: a batch ends at its `batch_rows`-th row and carries the
    quarantine entries of the lines before that row."""

    def __init__(self, schema: pa.Schema, batch_rows: int) -> None:
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows: list[pl.DataFrame] = []
        self.held = 0
        self.quarantine: list[Quarantined] = []

    def _batch(self, quarantine: list[Quarantined]) -> ParsedBatch:
        frames, self.rows, self.held = self.rows, [], 0
        if not frames:
            return ParsedBatch(empty_table(self.schema), quarantine)
        return ParsedBatch(as_table(pl.concat(frames), self.schema), quarantine)

    def add(self, rows: pl.DataFrame, quarantine: list[Quarantined]) -> Iterator[ParsedBatch]:
        self.quarantine += quarantine
        while self.held + rows.height >= self.batch_rows:
            need = self.batch_rows - self.held
            self.rows.append(rows.head(need))
            rows = rows.slice(need)
            last = self.rows[-1]["_line"][-1]
            later = (
                i for i, (line, _, _) in enumerate(self.quarantine) if line is None or line > last
            )
            cut = next(later, len(self.quarantine))
            before, self.quarantine = self.quarantine[:cut], self.quarantine[cut:]
            yield self._batch(before)
        if rows.height:
            self.rows.append(rows)
            self.held += rows.height

    def finish(self) -> ParsedBatch:
        quarantine, self.quarantine = self.quarantine, []
        return self._batch(quarantine)


def _native_block(
    block: list[bytes | LongLine],
    first_line: int,
    columns: Sequence[str],
    parser: _LineParser,
    long_lines: bool,
) -> tuple[pl.DataFrame, list[Quarantined]]:
    """One block of lines: the native path where it is exact, the per-line path for the rest
    (`long_lines`: the block holds a `LongLine`). Returns the rows in line order and the
    quarantine entries."""
    texts = [b"" if isinstance(raw, LongLine) else raw for raw in block] if long_lines else block
    taken, values = decode_lines(texts, columns, parser.keys)  # type: ignore[arg-type]
    numbers = pl.int_range(first_line, first_line + len(block), dtype=pl.Int64, eager=True)
    for index in (~taken).arg_true().to_list():
        parser.add(block[index], first_line + index)
    fast = values.with_columns(
        pl.lit(None, pl.String).alias("_rescued_data"), numbers.filter(taken).alias("_line")
    )
    slow = parser.flush()
    if slow.rows.num_rows == 0:
        return fast, slow.quarantine
    rows = pl.concat([fast, pl.from_arrow(slow.rows)], how="vertical_relaxed")  # type: ignore[list-item]
    return rows.sort("_line"), slow.quarantine


def _native(
    groups: Iterator[list[bytes | LongLine]],
    parser: _LineParser,
    columns: Sequence[str],
    batch_rows: int,
) -> Iterator[ParsedBatch]:
    """Lines decoded a block at a time by `bronze_native`; the same batches as `_per_line`.

    A block is whole groups of lines (a chunk's worth each): nothing here runs per line."""
    batches = _Rebatcher(parser.schema, batch_rows)
    block: list[bytes | LongLine] = []
    block_bytes = 0
    long_lines = False
    line_number = 0  # lines before the block

    def decode() -> Iterator[ParsedBatch]:
        nonlocal block, block_bytes, long_lines, line_number
        if block:
            yield from batches.add(
                *_native_block(block, line_number + 1, columns, parser, long_lines)
            )
        line_number += len(block)
        block, block_bytes, long_lines = [], 0, False

    try:
        for group in groups:
            block += group
            block_bytes += sum(map(len, group))
            long_lines = long_lines or isinstance(group[0], LongLine)  # only ever first
            if len(block) >= batch_rows or block_bytes >= NATIVE_BLOCK_BYTES:
                yield from decode()
    except (OSError, EOFError, zlib.error, NotUtf8Error) as exc:
        yield from decode()
        batches.quarantine.append((None, None, unreadable_reason(exc, line_number)))
    yield from decode()
    yield batches.finish()


def parse_json_lines(
    stream: BinaryIO,
    path: str,
    columns: Sequence[str],
    *,
    batch_rows: int = 50_000,
    max_line_bytes: int = MAX_LINE_BYTES,
    native: bool = True,
) -> Iterator[ParsedBatch]:
    """Yield bronze batches of one file; never raises for bad content, only reports it.

    Memory stays bounded by `batch_rows` and `max_line_bytes` whatever the file holds.
    `native=False` parses every line with the per-line path (the reference the native path is
    tested against); both yield the same batches.
    """
    schema = bronze_data_schema(columns)
    if not is_supported(path):
        yield ParsedBatch(
            empty_table(schema),
            [(None, None, "unsupported file type: expected .json, .jsonl or .ndjson (or .gz)")],
        )
        return
    parser = _LineParser(columns, max_line_bytes)
    groups = _line_groups(stream, path, max_line_bytes)
    if native and supports(columns):
        yield from _native(groups, parser, columns, batch_rows)
    else:
        yield from _per_line(groups, parser, batch_rows)


def unreadable_reason(exc: BaseException, line_number: int = 0) -> str:
    """Why a file (or its rest, after `line_number` lines) could not be read, in words a user
    can act on: zlib's "incorrect header check" means the file is not gzip at all."""
    if isinstance(exc, zlib.error) and "incorrect header check" in str(exc):
        detail = "not a gzip file (the name ends in .gz but the bytes are not gzip)"
    elif isinstance(exc, NotUtf8Error):
        detail = str(exc)
    elif isinstance(exc, OSError) and exc.strerror and not isinstance(exc, TruncatedFileError):
        detail = f"{type(exc).__name__}: {exc.strerror}"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    where = f"after line {line_number}" if line_number else "from its start"
    return f"unreadable file {where}: {detail}"


def unopenable_file(path: str, columns: Sequence[str], exc: OSError) -> ParsedBatch:
    """The quarantine entry of a file that could not even be opened (no permission, deleted
    since it was listed, a link that broke): the rest of the run goes on."""
    if isinstance(exc, FileNotFoundError):
        reason = "unreadable file: it vanished after it was listed (deleted or moved)"
    else:
        reason = f"unreadable file: {type(exc).__name__}: {exc.strerror or exc}"
    return ParsedBatch(empty_table(bronze_data_schema(columns)), [(None, None, reason)])
