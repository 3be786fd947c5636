"""Bronze: landing files -> Delta, as they arrived, one landing folder per partition.

Ingestion works like Auto Loader: the `bronze.ingested_files` manifest records each file's
fingerprint, so a file already ingested is skipped and a changed file replaces its own rows.
The manifest is written last, after the data, so a crash in between only causes a harmless
re-ingestion (the overwrite is keyed by file) and never a lost or doubled row.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    DynamicPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from paisa_assets.assets.reporting import Tally, table_metadata
from paisa_assets.partitions import metadata_partitions, reviews_partitions
from paisa_assets.resources.lakehouse import Lakehouse, sql_string
from paisa_assets.resources.landing_zone import (
    METADATA_DATASET,
    REVIEWS_DATASET,
    LandingFile,
    LandingZone,
)
from paisa_assets.tables import (
    BRONZE_INGESTED_FILES,
    BRONZE_METADATA,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
    asset_key,
)
from paisa_assets.transforms.bronze_parse import bronze_data_schema, parse_json_lines
from paisa_assets.transforms.schemas import BRONZE_METADATA_COLUMNS, BRONZE_REVIEWS_COLUMNS

TIMESTAMP = pa.timestamp("us", tz="UTC")
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


def bronze_schema(columns: Sequence[str]) -> pa.Schema:
    data = bronze_data_schema(columns)
    return pa.schema([*data, *(pa.field(n, t) for n, t in LINEAGE_FIELDS)])


@dataclass
class IngestOutcome(Tally):
    """What one partition's ingestion did, for run metadata and tests."""

    files_seen: int = 0
    files_ingested: int = 0
    files_skipped: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    ingested: list[str] = field(default_factory=list)


def already_ingested(lakehouse: Lakehouse, dataset: str, partition: str) -> dict[str, str]:
    """Fingerprint of every file of the partition the manifest says is ingested."""
    manifest = lakehouse.read(
        BRONZE_INGESTED_FILES,
        columns=["_source_file", "fingerprint"],
        where=(pl.col("dataset") == dataset) & (pl.col("_partition") == partition),
        schema=pl.Schema(MANIFEST_SCHEMA),
    )
    return dict(zip(manifest["_source_file"], manifest["fingerprint"], strict=True))


def ingest_file(
    landing: LandingZone,
    lakehouse: Lakehouse,
    *,
    dataset: str,
    table: str,
    columns: Sequence[str],
    file: LandingFile,
) -> tuple[int, int]:
    """Replace the bronze rows and quarantine rows of one file; returns (rows, quarantined)."""
    schema = bronze_schema(columns)
    ingested_at = pa.scalar(datetime.now(UTC), TIMESTAMP)
    partition = file.partition
    quarantined: list[dict[str, object]] = []
    rows = 0

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal rows
        with landing.open(file.path) as stream:
            for parsed in parse_json_lines(stream, file.path, columns):
                n = parsed.rows.num_rows
                rows += n
                quarantined.extend(
                    {"_line": line, "raw": raw, "reason": reason}
                    for line, raw, reason in parsed.quarantine
                )
                lineage = [
                    pa.repeat(pa.scalar(partition, pa.string()), n),
                    pa.repeat(pa.scalar(file.path, pa.string()), n),
                    pa.repeat(ingested_at, n),
                ]
                table_ = parsed.rows
                for (name, _), values in zip(LINEAGE_FIELDS, lineage, strict=True):
                    table_ = table_.append_column(name, values)
                yield from table_.cast(schema).to_batches()

    file_scope = f"_partition = {sql_string(partition)} AND _source_file = {sql_string(file.path)}"
    lakehouse.overwrite_where(
        table,
        pa.RecordBatchReader.from_batches(schema, batches()),
        file_scope,
        partition_by=["_partition"],
        metadata={"paisa": {"operation": "ingest_file", "source_file": file.path}},
    )
    existing_quarantine = lakehouse.count(BRONZE_QUARANTINE, pl.col("_source_file") == file.path)
    if quarantined or existing_quarantine:
        lakehouse.overwrite_where(
            BRONZE_QUARANTINE,
            pa.Table.from_pylist(
                [
                    {
                        "dataset": dataset,
                        "_partition": partition,
                        "_source_file": file.path,
                        **entry,
                        "_ingested_at": ingested_at.as_py(),
                    }
                    for entry in quarantined
                ],
                schema=QUARANTINE_SCHEMA,
            ),
            f"dataset = {sql_string(dataset)} AND {file_scope}",
            partition_by=["dataset"],
        )
    lakehouse.merge(
        BRONZE_INGESTED_FILES,
        pl.from_arrow(
            pa.Table.from_pylist(
                [
                    {
                        "dataset": dataset,
                        "_partition": partition,
                        "_source_file": file.path,
                        "fingerprint": file.fingerprint,
                        "size": file.size,
                        "modified": file.modified,
                        "rows": rows,
                        "quarantined": len(quarantined),
                        "_ingested_at": ingested_at.as_py(),
                    }
                ],
                schema=MANIFEST_SCHEMA,
            )
        ),  # type: ignore[arg-type]
        keys=["_source_file"],
    )
    return rows, len(quarantined)


def ingest_partition(
    landing: LandingZone,
    lakehouse: Lakehouse,
    *,
    dataset: str,
    table: str,
    columns: Sequence[str],
    partition: str,
) -> IngestOutcome:
    """Ingest every new or changed file of one landing folder, file by file."""
    lakehouse.ensure(table, bronze_schema(columns), partition_by=["_partition"])
    lakehouse.ensure(BRONZE_QUARANTINE, QUARANTINE_SCHEMA, partition_by=["dataset"])
    outcome = IngestOutcome()
    known = already_ingested(lakehouse, dataset, partition)
    for file in landing.list_files(dataset, partition):
        outcome.files_seen += 1
        if known.get(file.path) == file.fingerprint:
            outcome.files_skipped += 1
            continue
        rows, quarantined = ingest_file(
            landing, lakehouse, dataset=dataset, table=table, columns=columns, file=file
        )
        outcome.files_ingested += 1
        outcome.rows_written += rows
        outcome.rows_quarantined += quarantined
        outcome.ingested.append(file.path)
    return outcome


def build_bronze_asset(
    *,
    dataset: str,
    table: str,
    columns: Sequence[str],
    partitions_def: DynamicPartitionsDefinition,
    description: str,
):
    """One bronze asset per landing dataset; both share every line of ingestion code."""

    @asset(
        key=asset_key(table),
        group_name="bronze",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        description=description,
        kinds={"delta", "polars"},
        tags={"layer": "bronze"},
    )
    def _bronze(
        context: AssetExecutionContext, landing_zone: LandingZone, lakehouse: Lakehouse
    ) -> MaterializeResult:
        total = IngestOutcome()
        for partition in context.partition_keys:
            outcome = ingest_partition(
                landing_zone,
                lakehouse,
                dataset=dataset,
                table=table,
                columns=columns,
                partition=partition,
            )
            context.log.info(
                f"{dataset}/{partition}: {outcome.files_ingested} file(s) ingested, "
                f"{outcome.files_skipped} already ingested, {outcome.rows_written} rows, "
                f"{outcome.rows_quarantined} quarantined"
            )
            total.add(outcome)
        scope = pl.col("_partition").is_in(context.partition_keys)
        return MaterializeResult(
            metadata=table_metadata(
                lakehouse,
                table,
                {"written": total.rows_written, "quarantined": total.rows_quarantined},
                scope=scope,
                files_seen=MetadataValue.int(total.files_seen),
                files_ingested=MetadataValue.int(total.files_ingested),
                files_skipped_already_ingested=MetadataValue.int(total.files_skipped),
                landing_zone=MetadataValue.text(landing_zone.describe()),
            )
        )

    return _bronze


bronze_amazon_reviews = build_bronze_asset(
    dataset=REVIEWS_DATASET,
    table=BRONZE_REVIEWS,
    columns=BRONZE_REVIEWS_COLUMNS,
    partitions_def=reviews_partitions,
    description=(
        "One row per JSON line of the review files in the landing zone, every value as it "
        "arrived (strings; other JSON values as JSON text), unknown fields in _rescued_data, "
        "with _source_file, _line and _ingested_at. Bad lines go to bronze.quarantine."
    ),
)
bronze_amazon_metadata = build_bronze_asset(
    dataset=METADATA_DATASET,
    table=BRONZE_METADATA,
    columns=BRONZE_METADATA_COLUMNS,
    partitions_def=metadata_partitions,
    description=(
        "One row per JSON line of the product metadata files, every value as it arrived, "
        "unknown fields in _rescued_data, with _source_file, _line and _ingested_at."
    ),
)
