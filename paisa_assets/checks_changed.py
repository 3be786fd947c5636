"""The blocking checks on what changed (see `check_scope`): queries over the rows of the Delta
files added and removed since the check last passed, plus what those rows must be compared
with (a key column of the rest of the table), never the whole of a wide table."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import duckdb
import polars as pl
from deltalake import DeltaTable

from paisa_assets.delta_changes import FileDiff, removed_rows_sql
from paisa_assets.delta_duckdb import parquet_view, register_version
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.sql_quoting import quote_ident, sql_string
from paisa_assets.transforms.review_key import REVIEW_KEY, image_mismatch_sql, review_key


def _files_view(
    lakehouse: Lakehouse, table: str, columns: Sequence[str], files: Sequence[str]
) -> str | None:
    dt = lakehouse.delta_table(table)
    return parquet_view(dt, columns, files=files) if dt is not None and files else None


@dataclass(frozen=True)
class KeyDigest:
    """A key column computed from other columns (silver's `review_id` is a digest of the
    trimmed reviewerID and asin): while every row's digest matches its parts, two rows share
    the parts only if they share the digest, so the parts' uniqueness is checked on the one
    digest column (a single string column instead of two; and the same query as the digest
    column's own unique check, which `unique_keys_of_changes` then answers once per run)."""

    column: str
    parts: tuple[str, ...]
    compute: Callable[..., pl.Series]  # the parts' Series -> the digests (null if a part is)


@dataclass(frozen=True)
class KeyImage:
    """A column holding an image of a key, equal exactly where the key is
    (`transforms.review_key`): the rest of the table is searched for the added rows' keys by
    it, an integer, instead of by the key's strings (on a 5M-review silver 0.04 CPU-s against
    0.16). It is trusted only once every added row's image is checked (`mismatch_sql`)."""

    key: str
    column: str
    mismatch_sql: Callable[[str, str], str]  # (key, image column) -> SQL true on a wrong image
    compute: Callable[[pl.Expr], pl.Expr]  # the key -> its image


REVIEW_ID_IMAGE = KeyImage("review_id", REVIEW_KEY, image_mismatch_sql, review_key)
KEY_IMAGES = {(REVIEW_ID_IMAGE.key,): REVIEW_ID_IMAGE}


class KeysOfChanges(NamedTuple):
    rows: int
    null_keys: int
    duplicates: int
    # Added rows whose key image (`KeyImage`) is wrong: the lookups by it cannot be trusted.
    image_mismatches: int = 0


def key_image(dt: DeltaTable, keys: Sequence[str]) -> KeyImage | None:
    """The image column of these keys the table holds, if any."""
    image = KEY_IMAGES.get(tuple(keys))
    names = {field.name for field in dt.schema().fields}
    return image if image is not None and image.column in names else None


# The last answers of `unique_keys_of_changes`, by table, version, key and added files: two
# checks of one run that ask the same question (a key and the parts it digests) read once.
_ANSWERS: dict[tuple[str, int | None, tuple[str, ...], tuple[str, ...]], KeysOfChanges] = {}
_MAX_ANSWERS = 8


def unique_keys_of_changes(
    lakehouse: Lakehouse, warehouse: Warehouse, table: str, keys: Sequence[str], diff: FileDiff
) -> KeysOfChanges:
    """(rows checked, null keys, duplicate rows, wrong key images) of the rows the table gained
    since the last pass: duplicates among them, and keys they share with the rest of the table
    (whose key columns alone are read, or their image: `KeyImage`). The answer is kept for the
    same version and files (immutable)."""
    dt = lakehouse.delta_table(table)
    if dt is None or not diff.added:
        return KeysOfChanges(0, 0, 0)
    memo = (lakehouse.uri(table), dt.version(), tuple(keys), tuple(sorted(diff.added)))
    if memo not in _ANSWERS:
        while len(_ANSWERS) >= _MAX_ANSWERS:
            _ANSWERS.pop(next(iter(_ANSWERS)))
        _ANSWERS[memo] = _unique_keys_of_changes(warehouse, dt, keys, diff)
    return _ANSWERS[memo]


def _unique_keys_of_changes(
    warehouse: Warehouse, dt: DeltaTable, keys: Sequence[str], diff: FileDiff
) -> KeysOfChanges:
    """The answer for the version `dt` holds: the one the memo names, its log read once."""
    image = key_image(dt, keys)
    read = [*keys, image.column] if image else list(keys)
    added = parquet_view(dt, read, files=diff.added)
    if added is None:
        return KeysOfChanges(0, 0, 0)
    new = set(diff.added)
    others = [f for f in dt.file_uris() if f not in new]
    nulls = " OR ".join(f"{quote_ident(k)} IS NULL" for k in keys)
    with warehouse.engine() as con:
        con.execute(f"CREATE TEMP VIEW added AS {added}")
        mismatches = 0
        if image is not None:
            wrong = image.mismatch_sql(quote_ident(image.key), quote_ident(image.column))
            (mismatches,) = con.execute(
                f"SELECT count(*) FILTER (WHERE {wrong}) FROM added"
            ).fetchall()[0]
        # Every added image right: a key is shared exactly where its image is.
        lookup = [image.column] if image is not None and not mismatches else list(keys)
        rest = parquet_view(dt, lookup, files=others) if others else None
        columns = ", ".join(quote_ident(k) for k in lookup)
        on = " AND ".join(f"a.{quote_ident(k)} = r.{quote_ident(k)}" for k in lookup)
        shared = f"(SELECT count(*) FROM added AS a SEMI JOIN rest AS r ON {on})" if rest else "0"
        if rest:
            con.execute(f"CREATE TEMP VIEW rest AS {rest}")
        rows, null_keys, duplicates = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {nulls}), "
            f"(SELECT count(*) - count(DISTINCT ({columns})) FROM added WHERE NOT ({nulls})) "
            f"+ {shared} FROM added"
        ).fetchall()[0]
    return KeysOfChanges(int(rows), int(null_keys), int(duplicates), int(mismatches))


def count_in_changes(
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    table: str,
    columns: Sequence[str],
    where: str,
    diff: FileDiff,
) -> int:
    """Rows the table gained since the last pass that match `where` (over `columns`)."""
    added = _files_view(lakehouse, table, columns, diff.added)
    if added is None:
        return 0
    with warehouse.engine() as con:
        return int(con.execute(f"SELECT count(*) FROM ({added}) WHERE {where}").fetchall()[0][0])


def changed_partitions(
    con: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse,
    diffs: dict[str, FileDiff],
    dataset_of: dict[str, str],
) -> list[str]:
    """The landing folders (`_partition`) of every row added or removed in these tables;
    rows of a table in `dataset_of` count only when their `dataset` is the one given."""
    parts = []
    for table, diff in diffs.items():
        dataset = dataset_of.get(table)
        columns = ["_partition", "dataset"] if dataset else ["_partition"]
        added = _files_view(lakehouse, table, columns, diff.added)
        for sql in (added, removed_rows_sql(diff, columns)):
            if sql is None:
                continue
            where = f" WHERE dataset = {sql_string(dataset)}" if dataset else ""
            parts.append(f"SELECT DISTINCT _partition FROM ({sql}){where}")
    if not parts:
        return []
    rows = con.execute(" UNION ".join(parts)).fetchall()
    return sorted(r[0] for r in rows if r[0] is not None)


def _digest_batches(
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    table: str,
    digest: KeyDigest,
    files: list[str] | None,
) -> Iterator[pl.DataFrame]:
    """The digest and part columns of these files (None: the whole version, read the way the
    lake allows: a remote lake's files are streamed, DuckDB has no Azure extension offline),
    in batches."""
    dt = lakehouse.delta_table(table)
    if dt is None:
        return
    columns = [digest.column, *digest.parts]
    with warehouse.engine() as con:
        if files is None:
            register_version(con, "digested", dt, local=lakehouse.is_local(), columns=columns)
            relation = con.sql("SELECT * FROM digested")
        else:
            view = parquet_view(dt, columns, files=files)
            if view is None:
                return
            relation = con.sql(view)
        for batch in relation.to_arrow_reader(DIGEST_BATCH_ROWS):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield frame


# Rows whose digest is recomputed at a time (Python's hashlib, one call a row).
DIGEST_BATCH_ROWS = 100_000


def digest_mismatches(
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    table: str,
    digest: KeyDigest,
    files: list[str] | None = None,
) -> tuple[int, int, int]:
    """(rows, rows with a null part, rows whose digest column is not the digest of its parts)
    in these files of the table (None: all of them)."""
    rows = null_parts = mismatches = 0
    for frame in _digest_batches(lakehouse, warehouse, table, digest, files):
        null = frame.select(pl.any_horizontal(pl.col(c).is_null() for c in digest.parts))
        nulls = null.to_series()
        expected = digest.compute(*(frame[c] for c in digest.parts))
        rows += frame.height
        null_parts += int(nulls.sum())
        mismatches += int((~nulls & frame[digest.column].ne_missing(expected)).sum())
    return rows, null_parts, mismatches
