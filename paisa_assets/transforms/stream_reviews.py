"""Parsed stream reviews -> silver rows, with the typing and contract of batch reviews.

Stream events carry no review time, so the review date is the day the event was enqueued;
`processed_at` records when silver saw the row, for freshness and latency reporting.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from paisa_assets.transforms.review_key import REVIEW_KEY
from paisa_assets.transforms.reviews import split_reviews
from paisa_assets.transforms.schemas import BRONZE_REVIEWS_SCHEMA, SILVER_REVIEWS_SCHEMA
from paisa_assets.transforms.stream_events import EVENT_KEY

STREAM_LINEAGE = pl.Schema(
    {
        "partition_id": pl.String(),
        "sequence_number": pl.Int64(),
        "enqueued_time": pl.Datetime("us", "UTC"),
        "processed_at": pl.Datetime("us", "UTC"),
    }
)
# Without batch silver's `_review_key`: the stream's table grows by the day's events (about
# 10,000), not by landing folders, and its MERGE plans read it whole in a fraction of a second.
SILVER_STREAM_SCHEMA = pl.Schema(
    {
        **{name: dtype for name, dtype in SILVER_REVIEWS_SCHEMA.items() if name != REVIEW_KEY},
        **STREAM_LINEAGE,
    }
)


def split_stream_reviews(
    parsed: pl.DataFrame, processed_at: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(silver rows in SILVER_STREAM_SCHEMA, quarantine rows) of parsed stream reviews."""
    silver, quarantine = split_reviews(parsed.select(BRONZE_REVIEWS_SCHEMA.names()))
    lineage = parsed.select(
        "_source_file", "_line", "partition_id", "sequence_number", "enqueued_time"
    )
    silver = (
        silver.join(lineage, on=["_source_file", "_line"], how="left")
        .with_columns(
            pl.coalesce("review_date", pl.col("enqueued_time").dt.date()).alias("review_date"),
            pl.lit(processed_at, dtype=STREAM_LINEAGE["processed_at"]).alias("processed_at"),
        )
        .select(SILVER_STREAM_SCHEMA.names())
    )
    return silver.cast(dict(SILVER_STREAM_SCHEMA)), quarantine  # type: ignore[arg-type]


def dedupe_stream_reviews(reviews: pl.DataFrame) -> pl.DataFrame:
    """One row per review_id: the earliest enqueued copy (then partition, sequence number), the
    rule the silver MERGE applies across runs."""
    return reviews.sort("enqueued_time", "_source_file", "_line").unique(
        "review_id", keep="first", maintain_order=True
    )


# silver.reviews_streaming_decided: every stream event silver has decided, and how.
DECIDED_SCHEMA = pl.Schema(
    {
        "source_id": pl.String(),
        "partition_id": pl.String(),
        "sequence_number": pl.Int64(),
        "outcome": pl.String(),
        "decided_at": pl.Datetime("us", "UTC"),
    }
)


def decisions(
    pending: pl.DataFrame, kept: pl.DataFrame, quarantine: pl.DataFrame, now: datetime
) -> pl.DataFrame:
    """One row per pending event: `kept` (the silver row of its review now, possibly replaced
    later by an earlier copy), `quarantined`, or `duplicate` (a copy that lost)."""
    address = ["_source_file", "_line"]
    kept = kept.select(address).with_columns(pl.lit("kept").alias("outcome"))
    bad = quarantine.select(address).with_columns(pl.lit("quarantined").alias("outcome"))
    outcomes = pl.concat([kept, bad]).unique(address, keep="first")
    return (
        pending.select(*EVENT_KEY, *address)
        .join(outcomes, on=address, how="left")
        .select(
            *EVENT_KEY,
            pl.col("outcome").fill_null("duplicate"),
            pl.lit(now, dtype=DECIDED_SCHEMA["decided_at"]).alias("decided_at"),
        )
        .cast(dict(DECIDED_SCHEMA))  # type: ignore[arg-type]
    )
