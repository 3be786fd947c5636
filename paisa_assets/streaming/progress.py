"""What bronze.eh_streaming holds for one event source, as intervals of sequence numbers.

Consecutive sequence numbers collapse into one interval inside Polars (number minus rank is
constant along a run), so the sensor handles a few intervals per partition, not every event.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from paisa_assets.events import SourceSnapshot
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.streaming.plan import Interval
from paisa_assets.tables import BRONZE_EH_STREAMING

SOURCE_ID = "source_id"


def held_intervals(
    lakehouse: Lakehouse, source_id: str, floors: Mapping[str, int] | None = None
) -> dict[str, list[Interval]]:
    """Per partition, the sequence numbers bronze.eh_streaming holds for `source_id`; with
    `floors`, only those at or above each partition's floor (what planning needs: the read
    then follows the hub's retention, not the lake's whole history)."""
    scan = lakehouse.scan(BRONZE_EH_STREAMING)
    if scan is None:
        return {}
    if SOURCE_ID in scan.collect_schema().names():
        scan = scan.filter(pl.col(SOURCE_ID) == source_id)
    if floors is not None:
        scan = scan.filter(
            pl.any_horizontal(
                [
                    (pl.col("partition_id") == pid) & (pl.col("sequence_number") >= floor)
                    for pid, floor in floors.items()
                ]
                or [pl.lit(False)]
            )
        )
    # (A table from before sources had an id is migrated by the next streaming run; until
    # then its rows are taken as the current source's, as the migration will label them.)
    islands = (
        scan.select("partition_id", "sequence_number")
        .unique()
        .sort("partition_id", "sequence_number")
        .with_columns(
            (
                pl.col("sequence_number")
                - pl.int_range(pl.len(), dtype=pl.Int64).over("partition_id")
            ).alias("island")
        )
        .group_by("partition_id", "island")
        .agg(pl.col("sequence_number").min().alias("first"), pl.col("sequence_number").max())
        .sort("partition_id", "first")
        .collect()
    )
    held: dict[str, list[Interval]] = {}
    for partition_id, first, last in islands.select(
        "partition_id", "first", "sequence_number"
    ).iter_rows():
        held.setdefault(partition_id, []).append((int(first), int(last)))
    return held


def floors(snapshot: SourceSnapshot) -> dict[str, int]:
    """Each partition's oldest retained sequence number."""
    return {pid: bounds.first for pid, bounds in snapshot.bounds.items()}
