"""Builders shared by the transform tests: bronze frames with default lineage columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import polars as pl

from paisa_assets.transforms.schemas import BRONZE_METADATA_SCHEMA, BRONZE_REVIEWS_SCHEMA

INGESTED_AT = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def bronze_frame(
    rows: Sequence[Mapping[str, object]], schema: pl.Schema, *, partition: str = "partition_1"
) -> pl.DataFrame:
    """A bronze frame of `rows`: absent data columns are null Strings, lineage columns get
    defaults (row i is line i + 1 of one file) unless a row sets them."""
    file = f"dataset/{partition}/part-00000.json.gz"
    defaults: dict[str, object] = {
        "_rescued_data": None,
        "_partition": partition,
        "_source_file": file,
        "_ingested_at": INGESTED_AT,
    }
    full = [{**defaults, "_line": i + 1, **row} for i, row in enumerate(rows)]
    columns = {name: [row.get(name) for row in full] for name in schema.names()}
    return pl.DataFrame(columns, schema=schema)


def bronze_reviews(*rows: Mapping[str, object]) -> pl.DataFrame:
    return bronze_frame(rows, BRONZE_REVIEWS_SCHEMA, partition="partition_1")


def bronze_metadata(*rows: Mapping[str, object]) -> pl.DataFrame:
    return bronze_frame(rows, BRONZE_METADATA_SCHEMA, partition="partition_1")
