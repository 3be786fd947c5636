"""The lakehouse resource: where Delta tables live and how they are written.

Assets never build table paths or call delta-rs directly: they go through this resource, so that
switching the lake from a local folder to an `abfss://` URI is a configuration change, and so
that every write gets the same commit-conflict retries and no-op avoidance.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa
from dagster import ConfigurableResource, InitResourceContext, get_dagster_logger
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from pydantic import Field

from paisa_assets import faults
from paisa_assets.arrow_build import empty_table
from paisa_assets.delta_duckdb import plan_merge
from paisa_assets.resources.azure_storage import AzureStorage
from paisa_assets.sql_quoting import quote_ident, sql_string

T = TypeVar("T")
Data = pa.Table | pa.RecordBatchReader | pl.DataFrame

# delta-rs retries a commit that lost an optimistic-concurrency race this many times before it
# gives up; concurrent partition runs write the same tables, so the default (15) is raised.
MAX_COMMIT_RETRIES = 50
# Those retries only cover a lost race for a version number. A *logical* conflict (a concurrent
# MERGE added rows this MERGE's predicate would have read, a concurrent overwrite removed files
# this one read) makes delta-rs raise CommitFailedError: the whole operation is then run again
# on the new version, this many times at most, after a jittered, growing pause.
CONFLICT_ATTEMPTS = 25
CONFLICT_BACKOFF_SECONDS = (0.05, 2.0)  # first pause, longest pause
# Row groups of ~128k rows: a reader decompresses one row group at a time, so delta-rs's default
# (one group per file, a million rows and more) would make every scan hold whole files.
WRITER_PROPERTIES = WriterProperties(max_row_group_size=131_072, compression="ZSTD")
# Every open of a table replays its log since the last checkpoint, and a run opens its tables
# about a hundred times. delta-rs checkpoints every 100 commits by default, and folder and
# stream batches commit between two daily maintenance runs (which checkpoint): on a 5M-review
# lake silver's 19 commits made an open 9 ms of CPU, 4.4 ms after a checkpoint.
TABLE_CONFIGURATION = {"delta.checkpointInterval": "10"}


def retry_on_conflict(operation: Callable[[], T], what: str) -> T:
    """Run `operation` (a complete read-compute-commit) until it commits without a conflict.

    Every paisa write is idempotent and decides what to write from the table it reads, so
    running it again on the version that won the race gives the result a serial order would
    have given: a conflict costs time, never a row. Each retry is logged (in a run, to the
    Dagster event log), so concurrency shows up in the run's logs instead of being silent.
    """
    first, longest = CONFLICT_BACKOFF_SECONDS
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return operation()
        except CommitFailedError as exc:
            if attempt == CONFLICT_ATTEMPTS:
                raise
            reason = str(exc).split("\n")[0]
            get_dagster_logger("paisa.lakehouse").warning(
                f"commit conflict on {what} (attempt {attempt} of {CONFLICT_ATTEMPTS}): "
                f"{reason}; running it again on the latest version"
            )
            time.sleep(random.uniform(0, min(longest, first * 2**attempt)))
    raise AssertionError("unreachable")


def is_remote_uri(uri: str) -> bool:
    """True for object-store URIs (abfss://, az://, s3://...), false for local paths."""
    return "://" in uri and not uri.startswith("file://")


def collect_scan(
    scan: pl.LazyFrame | None,
    missing: str,
    *,
    columns: list[str] | None = None,
    where: pl.Expr | None = None,
    schema: Mapping[str, pl.DataType] | None = None,
) -> pl.DataFrame:
    """The rows of `scan` matching `where`, as `columns`; no scan (no table yet) reads as an
    empty `schema`, or fails with `missing` when the caller gave none."""
    if scan is None:
        if schema is None:
            raise LookupError(missing)
        scan = pl.LazyFrame(schema=dict(schema))
    if where is not None:
        scan = scan.filter(where)
    if columns is not None:
        scan = scan.select(columns)
    return scan.collect()


class Lakehouse(ConfigurableResource):
    """Delta tables named `layer.name`, stored under `root/<layer>/<name>`."""

    root: str = Field(
        default="data/lake",
        description="Lake root: a local folder or an object-store URI such as abfss://...",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict,
        description="Extra delta-rs storage options for a remote lake (never secrets: use azure).",
    )
    azure: AzureStorage | None = Field(
        default=None, description="Azure account of an az:// or abfss:// lake root."
    )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Fail fast on a remote lake that cannot be reached, naming the settings to fix."""
        if not is_remote_uri(self.root) or self.azure is None:
            return
        self.azure.probe(self.root, "lake")

    def is_local(self) -> bool:
        return not is_remote_uri(self.root)

    def resolved_root(self) -> str:
        if is_remote_uri(self.root):
            return self.root.rstrip("/")
        return str(Path(self.root).expanduser().absolute())

    def uri(self, table: str) -> str:
        layer, _, name = table.partition(".")
        if not layer or not name:
            raise ValueError(f"table names are 'layer.name', got {table!r}")
        root = self.resolved_root()
        if is_remote_uri(root):
            return f"{root}/{layer}/{name}"
        return os.path.join(root, layer, name)

    def _options(self) -> dict[str, str] | None:
        options = dict(self.storage_options)
        if self.azure is not None and is_remote_uri(self.root):
            options |= self.azure.delta_options()
        return options or None

    def delta_table(self, table: str) -> DeltaTable | None:
        """The table's latest version, or None when it has never been written."""
        try:
            return DeltaTable(self.uri(table), storage_options=self._options())
        except TableNotFoundError:
            return None

    def exists(self, table: str) -> bool:
        return self.delta_table(table) is not None

    def version(self, table: str) -> int | None:
        dt = self.delta_table(table)
        return None if dt is None else dt.version()

    def scan(self, table: str) -> pl.LazyFrame | None:
        """A lazy Polars scan of the current version, or None when the table does not exist.

        Filtered reads go through Polars rather than pyarrow datasets: files that delta-rs
        rewrote in a MERGE or DELETE store strings as Arrow string views, for which pyarrow has
        no comparison kernels, so a pushed-down pyarrow filter fails on them.
        """
        dt = self.delta_table(table)
        # The table just opened, not its URI: Polars would read the log a second time.
        return None if dt is None else pl.scan_delta(dt)

    def read(
        self,
        table: str,
        *,
        columns: list[str] | None = None,
        where: pl.Expr | None = None,
        schema: Mapping[str, pl.DataType] | None = None,
    ) -> pl.DataFrame:
        """Read (part of) a table; a table that does not exist yet reads as empty `schema`."""
        missing = f"table {table} does not exist yet at {self.uri(table)}"
        return collect_scan(self.scan(table), missing, columns=columns, where=where, schema=schema)

    def count(self, table: str, where: pl.Expr | None = None) -> int:
        scan = self.scan(table)
        if scan is None:
            return 0
        if where is not None:
            scan = scan.filter(where)
        return int(scan.select(pl.len()).collect().item())

    def ensure(
        self,
        table: str,
        schema: pa.Schema,
        partition_by: list[str] | None = None,
        *,
        initial: pa.Table | None = None,
    ) -> None:
        """Create the table empty (or holding `initial`, in the same commit) if it does not
        exist, so concurrent writers never race to create it with an unguarded overwrite."""
        existing = self.delta_table(table)
        if existing is not None:
            configure_table(existing)
            return
        try:
            write_deltalake(
                self.uri(table),
                empty_table(schema) if initial is None else initial.cast(schema),
                mode="ignore",
                partition_by=partition_by,
                storage_options=self._options(),
                configuration=TABLE_CONFIGURATION,
            )
        except DeltaError:
            if not self.exists(table):  # lost the race to another creator: fine; else re-raise
                raise

    def overwrite_where(
        self,
        table: str,
        data: Data | Callable[[], Data],
        predicate: str,
        *,
        partition_by: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Replace exactly the rows matching `predicate` with `data` in one atomic commit.

        This is how a repeated write stays idempotent: re-ingesting a file replaces that file's
        rows instead of adding a second copy. A stream can be consumed only once, so a caller
        writing one passes a function that opens it: on a commit conflict the write runs again.
        """

        def write() -> int:
            rows = data() if callable(data) else data
            if isinstance(rows, pl.DataFrame):
                rows = to_arrow(rows)
            self.ensure(table, rows.schema, partition_by)
            write_deltalake(
                self.uri(table),
                rows,
                mode="overwrite",
                predicate=predicate,
                partition_by=partition_by,
                storage_options=self._options(),
                commit_properties=self._commit(metadata),
                writer_properties=WRITER_PROPERTIES,
            )
            return self.version(table)  # type: ignore[return-value]

        if isinstance(data, pa.RecordBatchReader):
            return write()  # a stream cannot be written twice: a conflict is the caller's
        return retry_on_conflict(write, f"{table} (overwrite where {predicate[:120]})")

    def replace(
        self,
        table: str,
        data: pa.Table | pa.RecordBatchReader | pl.DataFrame,
        *,
        metadata: dict[str, Any] | None = None,
        read_version: DeltaTable | None = None,
    ) -> int:
        """Replace the whole table (gold tables rebuilt from silver); the schema may change.

        `read_version`, the table as the caller saw it before computing `data`, makes the
        commit fail (CommitFailedError) when another writer replaced the table since, instead
        of silently putting an older rebuild over a newer one.
        """
        if isinstance(data, pl.DataFrame):
            data = to_arrow(data)
        write_deltalake(
            read_version if read_version is not None else self.uri(table),
            data,
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=None if read_version is not None else self._options(),
            commit_properties=self._commit(metadata),
            writer_properties=WRITER_PROPERTIES,
            configuration=TABLE_CONFIGURATION,  # a new table's; an existing one keeps its own
        )
        written = self.delta_table(table)
        assert written is not None
        return configure_table(written)

    def merge(
        self,
        table: str,
        source: pl.DataFrame,
        *,
        keys: Iterable[str],
        update_when: str | None = None,
        insert_only: bool = False,
        delete_unmatched_when: str | None = None,
        partition_by: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        prune_by: str | None = None,
        match_scope: str | None = None,
        lookup_keys: Sequence[str] | None = None,
    ) -> dict[str, int]:
        """Upsert `source` on `keys` (aliases: `s` source, `t` target); returns merge metrics.

        `lookup_keys`, columns of both sides equal exactly when `keys` are (an integer image of
        a string key, `transforms.review_key`), are what the plan joins on: the whole target's
        key column is read for every MERGE, and an integer is cheaper to read and compare. A
        target without them (written before they existed) is planned on `keys`.

        `match_scope`, a predicate on the target's columns (no alias), says where every target
        row a source row can match sits: the plan reads only those rows (see `plan_merge`).
        The caller vouches for it: a source row matching a row outside it would be inserted
        again (the unique-key checks would then fail).

        `prune_by`, the table's partition column, makes a MERGE that updates or deletes read
        and rewrite only the partitions holding the rows it changes (`_pruned_merge`).

        `update_when` limits updates to rows where the source copy should win (`insert_only`
        never updates: for immutable rows such as events), and
        `delete_unmatched_when` removes target rows the source no longer has (for the slice of the
        target the source is authoritative for). A merge that changes nothing makes no commit.
        """
        self.ensure(table, to_arrow(source.head(0)).schema, partition_by)
        on = _matching(keys)

        def execute() -> dict[str, int]:
            dt = self.delta_table(table)  # the latest version, again on every attempt
            assert dt is not None
            held = {field.name for field in dt.schema().fields}
            lookup = list(lookup_keys or [])
            if not all(k in held and k in source.columns for k in lookup):
                lookup = []
            plan_on = _matching(lookup) if lookup else on
            plan = plan_merge(
                dt,
                source,
                on=plan_on,
                update_when=None if insert_only else (update_when or "true"),
                delete_when=delete_unmatched_when,
                local=self.is_local(),
                prune_by=prune_by if prune_by in dt.metadata().partition_columns else None,
                keys=list(keys),
                match_scope=match_scope,
            )
            if plan.new_rows is not None:
                # A backfill's chunk is all new: no need to copy it row by row.
                all_new = len(plan.new_rows) == source.height
                new_rows = to_arrow(source if all_new else source[pl.Series(plan.new_rows)])
                self._append_planned(table, dt, new_rows, metadata)
                return {
                    "num_source_rows": source.height,
                    "num_target_rows_inserted": new_rows.num_rows,
                    "num_target_rows_updated": 0,
                    "num_target_rows_deleted": 0,
                    "num_target_files_removed": 0,
                }
            if plan.partitions is not None:
                return self._pruned_merge(
                    dt, source, plan, on, update_when or "true", prune_by, table, metadata
                )
            # Plan and MERGE read the same version: a commit in between fails the MERGE's
            # conflict check, and the whole attempt runs again on the newer version.
            merger = dt.merge(
                _crash_while_reading(to_arrow(source), f"lakehouse.merge:{table}"),
                predicate=on,
                source_alias="s",
                target_alias="t",
                commit_properties=self._commit(metadata),
                writer_properties=WRITER_PROPERTIES,
            )
            if plan.updates:
                merger = merger.when_matched_update_all(predicate=update_when)
            merger = merger.when_not_matched_insert_all()
            if plan.deletes:
                merger = merger.when_not_matched_by_source_delete(predicate=delete_unmatched_when)
            return merger.execute()

        return retry_on_conflict(execute, f"{table} (merge on {', '.join(keys)})")

    def _pruned_merge(
        self,
        dt: DeltaTable,
        source: pl.DataFrame,
        plan: Any,
        on: str,
        update_when: str,
        prune_by: str | None,
        table: str,
        metadata: dict[str, Any] | None,
    ) -> dict[str, int]:
        """The MERGE the plan describes, reading only the partitions it changes.

        delta-rs skips partitions by a literal list in the MERGE's predicate, but not when the
        MERGE has a `when not matched by source` clause (it must then see every target row).
        So the rows to delete come as tombstones in the source (`__paisa_delete`), deleted when
        matched; the source keeps only the rows that insert or update (the plan found every
        other one matched and unchanged, wherever it sits), so no key outside the pruned
        partitions can be inserted twice. The plan and the MERGE read the same version.
        """
        assert prune_by is not None and plan.partitions is not None
        flag = "__paisa_delete"
        kept = source[pl.Series(plan.needed_rows)] if len(plan.needed_rows) else source.head(0)
        parts = [kept.with_columns(pl.lit(False).alias(flag))]
        if plan.deleted is not None and plan.deleted.num_rows:
            tombstones = pl.from_arrow(plan.deleted)
            assert isinstance(tombstones, pl.DataFrame)
            parts.append(
                tombstones.cast({c: source.schema[c] for c in tombstones.columns}).with_columns(  # type: ignore[arg-type]
                    pl.lit(True).alias(flag)
                )
            )
        rows = pl.concat(parts, how="diagonal")
        listing = ", ".join(sql_string(p) for p in plan.partitions)
        merger = (
            dt.merge(
                _crash_while_reading(to_arrow(rows), f"lakehouse.merge:{table}"),
                predicate=f"({on}) AND t.{quote_ident(prune_by)} IN ({listing})",
                source_alias="s",
                target_alias="t",
                commit_properties=self._commit(metadata),
                writer_properties=WRITER_PROPERTIES,
            )
            .when_matched_delete(predicate=f"s.{flag}")
            .when_matched_update_all(
                predicate=f"NOT s.{flag} AND ({update_when})", except_cols=[flag]
            )
            .when_not_matched_insert_all(predicate=f"NOT s.{flag}", except_cols=[flag])
        )
        return merger.execute()

    def _append_planned(
        self, table: str, version: DeltaTable, rows: pa.Table, metadata: dict[str, Any] | None
    ) -> None:
        """Append the rows a MERGE on `version` would have inserted, as that MERGE would have.

        The commit is allowed only as the version right after the planned one: if any writer
        committed since, the append fails (CommitFailedError) instead of landing a key another
        writer may have added meanwhile, and `retry_on_conflict` plans again on the new version.
        That is the guarantee the MERGE's conflict check gave, without its read of the target.
        Nothing to insert makes no commit, as a MERGE that changes nothing.
        """
        if rows.num_rows == 0:
            return
        write_deltalake(
            version,
            _crash_while_reading(rows, f"lakehouse.merge:{table}"),
            mode="append",
            commit_properties=CommitProperties(custom_metadata=metadata, max_commit_retries=0),
            writer_properties=WRITER_PROPERTIES,
        )

    def migrate(
        self,
        table: str,
        partition_by: list[str],
        derived: Mapping[str, pl.Expr] | None = None,
    ) -> bool:
        """Rewrite the table partitioned by these columns and holding the `derived` columns
        (computed from each row's others, appended after them), every row in one commit, unless
        it already is and does (True when it rewrote it): the migration of a table written
        before its layout changed. Rows stream through, so memory stays bounded; a concurrent
        writer makes the commit fail (it names the version it read) and the migration runs
        again."""
        derived = dict(derived or {})

        def rewrite() -> bool:
            dt = self.delta_table(table)
            if dt is None:
                return False
            names = {field.name for field in dt.schema().fields}
            missing = {name: expr for name, expr in derived.items() if name not in names}
            partitioned = list(dt.metadata().partition_columns) == partition_by
            if partitioned and not missing:
                return False
            changes = ([] if partitioned else [f"partitions by {', '.join(partition_by)}"]) + [
                f"column {name}" for name in missing
            ]
            get_dagster_logger("paisa.lakehouse").info(f"migrating {table}: {'; '.join(changes)}")
            rows: pa.RecordBatchReader = (
                dt.to_pyarrow_dataset().scanner(batch_size=65_536).to_reader()
            )
            if missing:
                rows = _with_derived(rows, missing)
            write_deltalake(
                dt,
                rows,
                mode="overwrite",
                schema_mode="overwrite",
                partition_by=partition_by,
                commit_properties=CommitProperties(max_commit_retries=0),
                writer_properties=WRITER_PROPERTIES,
            )
            return True

        return retry_on_conflict(rewrite, f"{table} (migration)")

    def record(self, table: str, metadata: dict[str, Any]) -> int:
        """An empty commit carrying `metadata`: an incremental gold update that changed no row
        still records the input versions it is up to date with."""
        dt = self.delta_table(table)
        assert dt is not None, f"{table} does not exist"
        write_deltalake(
            dt,
            empty_table(pa.schema(dt.schema().to_arrow())),  # type: ignore[arg-type]
            mode="append",
            partition_by=dt.metadata().partition_columns or None,
            commit_properties=self._commit(metadata),
        )
        return self.version(table)  # type: ignore[return-value]

    def _commit(self, metadata: dict[str, Any] | None) -> CommitProperties:
        return CommitProperties(custom_metadata=metadata, max_commit_retries=MAX_COMMIT_RETRIES)

    def last_commit_metadata(self, table: str) -> dict[str, Any]:
        """The commit info of the table's latest commit that wrote rows (where gold records
        its inputs): the maintenance's commits after it (`LAYOUT_OPERATIONS`) change none."""
        dt = self.delta_table(table)
        return {} if dt is None else last_data_commit(dt)

    def data_version(self, table: str) -> int | None:
        """The version of the table's latest commit that wrote rows (None: no table): what
        gold is built from, so that compacting or configuring silver asks for no gold run."""
        dt = self.delta_table(table)
        if dt is None:
            return None
        commit = last_data_commit(dt)
        return int(commit["version"]) if "version" in commit else dt.version()


# Commits that rewrite or annotate a table without changing a row: the maintenance's
# compaction, vacuum and table properties (`configure_table`).
LAYOUT_OPERATIONS = frozenset({"OPTIMIZE", "SET TBLPROPERTIES", "VACUUM START", "VACUUM END"})
# How far back the latest commit that wrote rows is looked for: a day's maintenance makes four
# commits per table at most.
_HISTORY_LIMIT = 64


def last_data_commit(dt: DeltaTable) -> dict[str, Any]:
    """The commit info (with its `version`) of the latest commit of `dt` that is not a
    maintenance one; {} when none is within `_HISTORY_LIMIT` commits."""
    for limit in (1, _HISTORY_LIMIT):  # the latest commit, nearly always; then further back
        commits = dt.history(limit=limit)
        for commit in commits:
            if commit.get("operation") not in LAYOUT_OPERATIONS:
                return commit
        if len(commits) < limit:
            break
    return {}


def _matching(columns: Iterable[str]) -> str:
    """The MERGE predicate of equal `columns` (aliases `t` target, `s` source)."""
    return " AND ".join(f"t.{quote_ident(c)} = s.{quote_ident(c)}" for c in columns)


def configure_table(dt: DeltaTable) -> int:
    """Give a table written before `TABLE_CONFIGURATION` its properties (one commit, once);
    returns the table's version. A concurrent writer's commit makes this one fail: the next
    write tries again."""
    configuration = dt.metadata().configuration
    if all(configuration.get(k) == v for k, v in TABLE_CONFIGURATION.items()):
        return dt.version()
    with contextlib.suppress(DeltaError):  # CommitFailedError included
        dt.alter.set_table_properties(TABLE_CONFIGURATION)
    return dt.version()


def _with_derived(
    rows: pa.RecordBatchReader, derived: Mapping[str, pl.Expr]
) -> pa.RecordBatchReader:
    """The batches of `rows` with the `derived` columns appended."""

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in rows:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield from to_arrow(frame.with_columns(**derived)).to_batches()

    first = pl.from_arrow(rows.schema.empty_table())
    assert isinstance(first, pl.DataFrame)
    schema = to_arrow(first.with_columns(**derived)).schema
    return pa.RecordBatchReader.from_batches(schema, batches())


def _crash_while_reading(source: pa.Table, point: str) -> pa.Table | pa.RecordBatchReader:
    """`source` itself, unless the crash point is armed (see `paisa_assets.faults`): then a
    stream of it that kills the process once delta-rs has read it all, in the middle of the
    MERGE's execution and before its commit."""
    if not faults.armed(point):
        return source

    def batches() -> Iterator[pa.RecordBatch]:
        yield from source.to_batches()
        faults.crash_point(point)

    return pa.RecordBatchReader.from_batches(source.schema, batches())


def to_arrow(frame: pl.DataFrame) -> pa.Table:
    """Polars' newest Arrow export uses string views, which pyarrow's dataset filters on the
    Delta tables (plain strings) cannot compare with; the oldest compatibility level avoids them.
    """
    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())
