"""Relations over several tables (`tables.UNION_VIEWS`), and the migration of lakes written
when those relations were shared tables.

Before every table had one writer, `bronze.quarantine`, `silver.quarantine`,
`bronze.ingested_files` and `gold.model_evaluations` were single Delta tables written by several
assets. Each is now one table per dataset (or per model) with the same columns, and the old name
is a union view. A lake written before the split migrates itself, nothing lost:
- readers (`scan_table`, `read_view`, `count_view`) read a new table's slice of the old table
  (rows whose `dataset` or `model` is the new table's) until the new table exists;
- each writer creates its table with that slice in the table's first commit (`ensure_table`),
  so the slice is copied once, atomically, and from then on the new table is the truth.
The old tables are left in place, unread once every writer has run, and kept compacted and
vacuumed by the maintenance asset while they exist (`LEGACY_TABLES`); delete their folders
(`<lake>/bronze/quarantine`, `<lake>/silver/quarantine`, `<lake>/bronze/ingested_files`,
`<lake>/gold/model_evaluations`) when you no longer want them.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
import pyarrow as pa

from paisa_assets.resources.lakehouse import Lakehouse, collect_scan
from paisa_assets.tables import (
    BRONZE_INGESTED_FILES,
    BRONZE_METADATA_FILES,
    BRONZE_METADATA_QUARANTINE,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS_FILES,
    BRONZE_REVIEWS_QUARANTINE,
    BRONZE_STREAM_QUARANTINE,
    GOLD_MODEL_EVALUATIONS,
    GOLD_RECOMMENDER_EVALUATIONS,
    GOLD_SENTIMENT_EVALUATIONS,
    SILVER_METADATA_QUARANTINE,
    SILVER_QUARANTINE,
    SILVER_REVIEWS_QUARANTINE,
    SILVER_STREAM_QUARANTINE,
    UNION_VIEWS,
)

# New table -> (the shared table it was a slice of, the column and value that picked it out).
LEGACY_SLICES: dict[str, tuple[str, str, str]] = {
    BRONZE_REVIEWS_QUARANTINE: (BRONZE_QUARANTINE, "dataset", "amazon_reviews"),
    BRONZE_METADATA_QUARANTINE: (BRONZE_QUARANTINE, "dataset", "amazon_metadata"),
    BRONZE_STREAM_QUARANTINE: (BRONZE_QUARANTINE, "dataset", "eh_streaming"),
    SILVER_REVIEWS_QUARANTINE: (SILVER_QUARANTINE, "dataset", "amazon_reviews"),
    SILVER_METADATA_QUARANTINE: (SILVER_QUARANTINE, "dataset", "amazon_metadata"),
    SILVER_STREAM_QUARANTINE: (SILVER_QUARANTINE, "dataset", "reviews_streaming"),
    BRONZE_REVIEWS_FILES: (BRONZE_INGESTED_FILES, "dataset", "amazon_reviews"),
    BRONZE_METADATA_FILES: (BRONZE_INGESTED_FILES, "dataset", "amazon_metadata"),
    GOLD_SENTIMENT_EVALUATIONS: (GOLD_MODEL_EVALUATIONS, "model", "paisa-sentiment"),
    GOLD_RECOMMENDER_EVALUATIONS: (GOLD_MODEL_EVALUATIONS, "model", "paisa-recommender"),
}

# The old shared tables, in the order of their first slice.
LEGACY_TABLES = tuple(dict.fromkeys(legacy for legacy, _, _ in LEGACY_SLICES.values()))


def scan_table(lakehouse: Lakehouse, table: str) -> pl.LazyFrame | None:
    """The table; before its writer first ran on a lake from before the split, its slice of
    the old shared table; None when neither exists."""
    scan = lakehouse.scan(table)
    if scan is not None or table not in LEGACY_SLICES:
        return scan
    legacy, column, value = LEGACY_SLICES[table]
    old = lakehouse.scan(legacy)
    return None if old is None else old.filter(pl.col(column) == value)


def scan_view(lakehouse: Lakehouse, view: str) -> pl.LazyFrame | None:
    """Every existing table of the view (or the one table of that name), one after another;
    None when none exists yet."""
    tables = UNION_VIEWS.get(view, (view,))
    scans = [scan for table in tables if (scan := scan_table(lakehouse, table)) is not None]
    if not scans:
        return None
    return pl.concat(scans, how="diagonal_relaxed")


def read_view(
    lakehouse: Lakehouse,
    view: str,
    *,
    columns: list[str] | None = None,
    where: pl.Expr | None = None,
    schema: Mapping[str, pl.DataType] | None = None,
) -> pl.DataFrame:
    """Like `Lakehouse.read`, over every table of the view."""
    return collect_scan(
        scan_view(lakehouse, view),
        f"no table of {view} exists yet",
        columns=columns,
        where=where,
        schema=schema,
    )


def count_view(lakehouse: Lakehouse, view: str, where: pl.Expr | None = None) -> int:
    scan = scan_view(lakehouse, view)
    if scan is None:
        return 0
    if where is not None:
        scan = scan.filter(where)
    return int(scan.select(pl.len()).collect().item())


def ensure_table(
    lakehouse: Lakehouse, table: str, schema: pa.Schema, partition_by: list[str] | None = None
) -> None:
    """Create the table if it does not exist, holding its slice of the old shared table (if
    any) in its first commit: a crash cannot leave it created without the migrated rows."""
    if lakehouse.exists(table):
        return
    legacy = scan_table(lakehouse, table)
    initial = None
    if legacy is not None:
        initial = legacy.select(schema.names).collect().to_arrow()
    lakehouse.ensure(table, schema, partition_by, initial=initial)


def arrow_schema(schema: Mapping[str, pl.DataType]) -> pa.Schema:
    return pl.DataFrame(schema=dict(schema)).to_arrow().schema
