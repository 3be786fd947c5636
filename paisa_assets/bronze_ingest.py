"""Bronze ingestion: landing files -> Delta, as they arrived.

Ingestion works like Auto Loader: each dataset's manifest (`bronze.<dataset>_ingested_files`)
records each file's fingerprint, so a file already ingested is skipped and a changed file
replaces its own rows. The manifest is written last, after the data and the quarantine, so a
crash in between only causes a harmless re-ingestion (the overwrite is keyed by file) and never
a lost or doubled row.
"""

from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
from dagster import (
    get_dagster_logger,
)

from paisa_assets.arrow_build import constant_column, table_from_rows
from paisa_assets.faults import crash_point
from paisa_assets.lake_views import ensure_table
from paisa_assets.materialization_metadata import Tally
from paisa_assets.registry import delta_partition_by
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import (
    METADATA_DATASET,
    REVIEWS_DATASET,
    LandingFile,
    LandingZone,
)
from paisa_assets.sql_quoting import in_list, sql_string
from paisa_assets.tables import (
    BRONZE_METADATA_FILES,
    BRONZE_METADATA_QUARANTINE,
    BRONZE_REVIEWS_FILES,
    BRONZE_REVIEWS_QUARANTINE,
)
from paisa_assets.transforms.bronze_parse import bronze_data_schema
from paisa_assets.transforms.parallel_parse import FileParser

TIMESTAMP = pa.timestamp("us", tz="UTC")
BATCH_BYTES = 64 * 2**20  # compressed bytes of landing files per bronze commit
BATCH_FILES = 256
# Landing folders per commit. Bronze is partitioned by folder, and delta-rs keeps one Parquet
# file per partition open, buffered in memory, until the write ends: 64 MiB of metadata spans
# ~90 folders of 10,000 products. At 1M products bronze metadata peaked at 1,142 MiB with
# 64 MiB commits, 789 MiB with 16 folders (benchmarks/results/metadata_memory*.json).
BATCH_PARTITIONS = 16
LINEAGE_FIELDS = [
    ("_partition", pa.string()),
    ("_source_file", pa.string()),
    ("_ingested_at", TIMESTAMP),
]
QUARANTINE_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("_partition", pa.string()),
        ("_source_file", pa.string()),
        ("_line", pa.int64()),
        ("raw", pa.string()),
        ("reason", pa.string()),
        ("_ingested_at", TIMESTAMP),
    ]
)
MANIFEST_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("_partition", pa.string()),
        ("_source_file", pa.string()),
        ("fingerprint", pa.string()),
        ("size", pa.int64()),
        ("modified", pa.string()),
        ("rows", pa.int64()),
        ("quarantined", pa.int64()),
        ("_ingested_at", TIMESTAMP),
    ]
)


# Each landing dataset's side tables, written by its bronze asset: (quarantine, manifest).
SIDE_TABLES = {
    REVIEWS_DATASET: (BRONZE_REVIEWS_QUARANTINE, BRONZE_REVIEWS_FILES),
    METADATA_DATASET: (BRONZE_METADATA_QUARANTINE, BRONZE_METADATA_FILES),
}


def bronze_schema(columns: Sequence[str]) -> pa.Schema:
    data = bronze_data_schema(columns)
    return pa.schema([*data, *(pa.field(n, t) for n, t in LINEAGE_FIELDS)])


@dataclass
class IngestOutcome(Tally):
    """What one partition's ingestion did, for run metadata and tests."""

    files_seen: int = 0
    files_ingested: int = 0
    files_skipped: int = 0
    files_missing_from_landing: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0


def already_ingested(
    lakehouse: Lakehouse, dataset: str, partitions: Sequence[str]
) -> dict[str, str]:
    """Fingerprint of every file of these partitions that the manifest says is ingested."""
    manifest = lakehouse.read(
        SIDE_TABLES[dataset][1],
        columns=["_source_file", "fingerprint"],
        where=pl.col("_partition").is_in(list(partitions)),
        schema=pl.Schema(MANIFEST_SCHEMA),
    )
    return dict(zip(manifest["_source_file"], manifest["fingerprint"], strict=True))


def batch_files(files: Sequence[LandingFile]) -> Iterator[list[LandingFile]]:
    """Group files into commits of at most BATCH_BYTES compressed, BATCH_FILES files and
    BATCH_PARTITIONS landing folders.

    One commit per batch instead of per file keeps the Delta log short on a backfill of
    thousands of folders, while the bounds keep the writer's buffers bounded: the bytes bound
    for large folders, the folder bound for many small ones (each an open partition file).
    """
    batch: list[LandingFile] = []
    partitions: set[str] = set()
    size = 0
    for file in files:
        full = (
            size + file.size > BATCH_BYTES
            or len(batch) >= BATCH_FILES
            or (file.partition not in partitions and len(partitions) >= BATCH_PARTITIONS)
        )
        if batch and full:
            yield batch
            batch, partitions, size = [], set(), 0
        batch.append(file)
        partitions.add(file.partition)
        size += file.size
    if batch:
        yield batch


def _with_lineage(rows: pa.Table, file: LandingFile, ingested_at: datetime) -> pa.Table:
    for (name, dtype), value in zip(
        LINEAGE_FIELDS, (file.partition, file.path, ingested_at), strict=True
    ):
        rows = rows.append_column(name, constant_column(value, dtype, rows.num_rows))
    return rows


def ingest_files(
    landing: LandingZone,
    lakehouse: Lakehouse,
    *,
    dataset: str,
    table: str,
    columns: Sequence[str],
    files: Sequence[LandingFile],
    parser: FileParser | None = None,
) -> dict[str, tuple[int, int]]:
    """Replace the bronze and quarantine rows of these files, then record them in the manifest.

    Returns (rows written, rows quarantined) per landing folder. The data goes first and the
    manifest last, each write keyed by file, so a crash between them only means the files are
    ingested again.
    `parser` parses the files (on worker processes when it has them); without one, each file is
    parsed here as it is written.
    """
    parser = parser or FileParser(workers=0)
    quarantine_table, manifest_table = SIDE_TABLES[dataset]
    schema = bronze_schema(columns)
    ingested_at = datetime.now(UTC)
    quarantined: list[dict[str, object]] = []
    rows_per_file: dict[str, int] = {}
    quarantined_per_file: dict[str, int] = {}

    def batches() -> Iterator[pa.RecordBatch]:
        for file, parsed_batches in parser.parse(files, landing.open, columns):
            for parsed in parsed_batches:
                rows_per_file[file.path] += parsed.rows.num_rows
                quarantined_per_file[file.path] += len(parsed.quarantine)
                quarantined.extend(
                    {
                        "dataset": dataset,
                        "_partition": file.partition,
                        "_source_file": file.path,
                        "_line": line,
                        "raw": raw,
                        "reason": reason,
                        "_ingested_at": ingested_at,
                    }
                    for line, raw, reason in parsed.quarantine
                )
                yield from (_with_lineage(parsed.rows, file, ingested_at).cast(schema).to_batches())
            # delta-rs has taken every batch of this file and may have written data files;
            # nothing is committed until the stream ends.
            crash_point(f"bronze.during_write:{table}")

    def open_batches() -> pa.RecordBatchReader:
        """A fresh stream (and fresh tallies) for each attempt: a commit conflict re-reads."""
        quarantined.clear()
        rows_per_file.update(dict.fromkeys((f.path for f in files), 0))
        quarantined_per_file.update(dict.fromkeys((f.path for f in files), 0))
        return pa.RecordBatchReader.from_batches(schema, batches())

    paths = [f.path for f in files]
    scope = (
        f"{in_list('_partition', sorted({f.partition for f in files}))} "
        f"AND {in_list('_source_file', paths)}"
    )
    lakehouse.overwrite_where(
        table,
        open_batches,
        scope,
        partition_by=delta_partition_by(table),
        metadata={"paisa": {"operation": "ingest_files", "files": len(files)}},
    )
    previously_quarantined = lakehouse.count(quarantine_table, pl.col("_source_file").is_in(paths))
    if quarantined or previously_quarantined:
        lakehouse.overwrite_where(
            quarantine_table,
            table_from_rows(quarantined, QUARANTINE_SCHEMA),
            f"dataset = {sql_string(dataset)} AND {scope}",
        )
    # Data and quarantine are committed, the manifest is not: a crash here re-ingests the files.
    crash_point(f"bronze.before_manifest:{table}")
    manifest = table_from_rows(
        [
            {
                "dataset": dataset,
                "_partition": f.partition,
                "_source_file": f.path,
                "fingerprint": f.fingerprint,
                "size": f.size,
                "modified": f.modified,
                "rows": rows_per_file[f.path],
                "quarantined": quarantined_per_file[f.path],
                "_ingested_at": ingested_at,
            }
            for f in files
        ],
        MANIFEST_SCHEMA,
    )
    lakehouse.merge(manifest_table, pl.from_arrow(manifest), keys=["_source_file"])  # type: ignore[arg-type]
    per_partition: dict[str, tuple[int, int]] = {}
    for f in files:
        rows, bad = per_partition.get(f.partition, (0, 0))
        rows, bad = rows + rows_per_file[f.path], bad + quarantined_per_file[f.path]
        per_partition[f.partition] = (rows, bad)
    return per_partition


def ingest_partitions(
    landing: LandingZone,
    lakehouse: Lakehouse,
    *,
    dataset: str,
    table: str,
    columns: Sequence[str],
    partitions: Sequence[str],
    parser: FileParser | None = None,
    per_partition: dict[str, IngestOutcome] | None = None,
) -> IngestOutcome:
    """Ingest every new or changed file of these landing folders, in bounded batches; returns
    the totals, and fills `per_partition` (when given) with each folder's own outcome.

    The files are parsed on worker processes when there are enough of them to pay for starting
    the workers (see `FileParser`); the workers serve every batch and stop when this returns.
    A `parser` given by the caller is the caller's to close.
    """
    lakehouse.ensure(table, bronze_schema(columns), partition_by=delta_partition_by(table))
    quarantine_table, manifest_table = SIDE_TABLES[dataset]
    ensure_table(lakehouse, quarantine_table, QUARANTINE_SCHEMA)
    ensure_table(lakehouse, manifest_table, MANIFEST_SCHEMA)
    known = already_ingested(lakehouse, dataset, partitions)
    per_partition = per_partition if per_partition is not None else {}
    pending: list[LandingFile] = []
    for partition in partitions:
        listed = landing.list_files(dataset, partition)
        ingested_here = {path for path in known if path.split("/")[1] == partition}
        missing = sorted(ingested_here - {f.path for f in listed})
        for path in missing:  # named, so the user can tell a deletion from a typo
            get_dagster_logger("paisa.bronze").warning(
                f"{path} was ingested but is no longer in the landing zone; "
                "its bronze rows are kept"
            )
        new = [f for f in listed if known.get(f.path) != f.fingerprint]
        per_partition[partition] = IngestOutcome(
            files_seen=len(listed),
            files_skipped=len(listed) - len(new),
            files_missing_from_landing=len(missing),
            files_ingested=len(new),
        )
        pending += new
    with (
        nullcontext(parser)
        if parser is not None
        else FileParser(warn=get_dagster_logger("paisa.bronze").warning)
    ) as files_parser:
        files_parser.plan(pending)
        for batch in batch_files(pending):
            written = ingest_files(
                landing,
                lakehouse,
                dataset=dataset,
                table=table,
                columns=columns,
                files=batch,
                parser=files_parser,
            )
            for partition, (rows, quarantined) in written.items():
                per_partition[partition].rows_written += rows
                per_partition[partition].rows_quarantined += quarantined
    outcome = IngestOutcome()
    for partition_outcome in per_partition.values():
        outcome.add(partition_outcome)
    return outcome
