"""Materialization metadata shared by every asset: counts, schema, preview, Delta version.

Every asset reports the same shape so the Dagster UI reads the same from bronze to gold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import polars as pl
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    MaterializeResult,
    MetadataValue,
)

from paisa_assets.asset_specs import column_schema
from paisa_assets.delta_changes import rows_by_partition_value
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.tables import asset_key

PREVIEW_ROWS = 5
PREVIEW_CELL_CHARS = 60


@dataclass
class Tally:
    """Counts of one unit of work; `add` sums them into a run's total."""

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def markdown_preview(frame: pl.DataFrame) -> str:
    """A small markdown table; long texts are cut so the UI stays readable."""
    if frame.is_empty():
        return "_no rows_"

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= PREVIEW_CELL_CHARS else text[: PREVIEW_CELL_CHARS - 1] + "…"

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows])


def table_metadata(
    lakehouse: Lakehouse,
    table: str,
    counts: dict[str, int],
    *,
    scope: pl.Expr | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Metadata for a materialization of `table` (or the slice `scope` of it, for a partition)."""
    metadata: dict[str, Any] = {f"rows_{name}": MetadataValue.int(n) for name, n in counts.items()}
    metadata["table"] = MetadataValue.text(table)
    metadata["table_uri"] = MetadataValue.path(lakehouse.uri(table))
    dt = lakehouse.delta_table(table)
    scan = lakehouse.scan(table)
    if dt is None or scan is None:
        metadata["dagster/row_count"] = MetadataValue.int(0)
        return metadata | extra
    if scope is not None:
        scan = scan.filter(scope)
    metadata["dagster/row_count"] = MetadataValue.int(lakehouse.count(table, scope))
    # The columns on disk, each described by the registry. The Delta log's schema, not a
    # pyarrow dataset's (the same fields): a dataset lists every file first (0.2 CPU-s a call on
    # a 5M-row silver) and importing pyarrow.dataset imports pandas (0.5 CPU-s per run).
    on_disk = pa.schema(dt.schema().to_arrow())  # type: ignore[arg-type]
    metadata["dagster/column_schema"] = column_schema(table, on_disk)
    metadata["delta_version"] = MetadataValue.int(dt.version())
    metadata["preview"] = MetadataValue.md(markdown_preview(scan.head(PREVIEW_ROWS).collect()))
    return metadata | extra


def rows_per_partition(
    lakehouse: Lakehouse, table: str, partitions: list[str], where: pl.Expr | None = None
) -> dict[str, int]:
    """Rows of `table` in each landing folder (`_partition`) that holds any.

    A table partitioned by the folder answers from its log's file statistics: a full load's
    chunking and per-folder figures scanned the `_partition` column of every row of bronze and
    silver (at 30M reviews that scan was the silver step's peak memory); others take one scan.
    """
    dt = lakehouse.delta_table(table)
    if dt is None:
        return {}
    logged = None if where is not None else rows_by_partition_value(dt, "_partition")
    if logged is not None:
        wanted = set(partitions)
        return {partition: n for partition, n in logged.items() if partition in wanted}
    scan = pl.scan_delta(dt).filter(pl.col("_partition").is_in(partitions))
    if where is not None:
        scan = scan.filter(where)
    counts = scan.group_by("_partition").len().collect()
    return dict(counts.iter_rows())  # type: ignore[arg-type]


def partitioned_result(
    context: AssetExecutionContext,
    lakehouse: Lakehouse,
    table: str,
    per_partition: dict[str, tuple[dict[str, int], dict[str, int]]],
    metadata: dict[str, Any],
    *,
    asset_key: AssetKey | None = None,
) -> MaterializeResult:
    """The result of a run over landing folders: each folder's own figures, the table's rows.

    A single-run backfill over many folders records one materialization per folder, each with
    the `MaterializeResult`'s metadata, so every folder would show the run's totals.
    Partition-scoped metadata (`add_asset_metadata(partition_key=...)`) replaces them in that
    folder's event: its own counts (`rows_*`, named as `table_metadata` names them), its own
    extra figures and `partition_row_count` (the table's rows from that folder).

    `dagster/row_count` is the asset's row count in the UI, which takes it from the latest
    materialization, else the latest observation: it is left out of the per-folder events (a
    folder's figure would show as the table's) and reported, for the whole table, in an
    observation. `table_row_count` in every event says the same.
    `asset_key`: which asset of a multi-asset (default: the step's only one).
    """
    asset_key = asset_key or context.asset_key
    rows = rows_per_partition(lakehouse, table, list(per_partition))
    for partition, (counts, extra) in per_partition.items():
        scoped: dict[str, Any] = {
            f"rows_{name}": MetadataValue.int(n) for name, n in counts.items()
        }
        scoped |= {name: MetadataValue.int(n) for name, n in extra.items()}
        scoped["partition_row_count"] = MetadataValue.int(rows.get(partition, 0))
        context.add_asset_metadata(scoped, asset_key=asset_key, partition_key=partition)
    table_rows = metadata.pop("dagster/row_count")
    metadata["table_row_count"] = table_rows
    context.log_event(
        AssetObservation(asset_key=asset_key, metadata={"dagster/row_count": table_rows})
    )
    return MaterializeResult(asset_key=asset_key, metadata=metadata)


def table_results(
    lakehouse: Lakehouse, counts: dict[str, dict[str, int]]
) -> Iterator[MaterializeResult]:
    """One result per table a multi-asset wrote ({table: its counts}), each described by
    `table_metadata`."""
    for table, table_counts in counts.items():
        yield MaterializeResult(
            asset_key=asset_key(table), metadata=table_metadata(lakehouse, table, table_counts)
        )
