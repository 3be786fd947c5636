"""Reading a run's ranges from the event source, and the one-time migration of stream tables
written before events carried their source's id."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from paisa_assets.events import SequenceRange, StreamEvent
from paisa_assets.faults import fault_point
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse

MAX_PARALLEL_READS = 8


def read_ranges(source: EventSource, ranges: list[SequenceRange]) -> Iterator[list[StreamEvent]]:
    """The events of each range, in order, the ranges read side by side: each read waits on the
    network (a connection, then the events), so partitions in parallel cost one wait, not four."""
    if not ranges:
        return
    with ThreadPoolExecutor(max_workers=min(len(ranges), MAX_PARALLEL_READS)) as pool:
        futures = []
        for wanted in ranges:
            fault_point("streaming.before_range")
            futures.append(pool.submit(source.read, wanted))
        for future in futures:
            yield future.result()


def migrate_to_source_ids(lakehouse: Lakehouse, table: str, source: EventSource | str) -> None:
    """A stream table written before events carried their source's id gets the column, with
    the id of the source configured now (the lake was fed by it: the only source a lake had
    before ids existed). One rewrite of a small table, the first time a run meets it."""
    scan = lakehouse.scan(table)
    if scan is None or "source_id" in scan.collect_schema().names():
        return
    source_id = source if isinstance(source, str) else source.snapshot().source_id
    rows = scan.collect()
    lakehouse.replace(
        table,
        rows.select(pl.lit(source_id).alias("source_id"), pl.all()),
        metadata={"paisa.migration": f"source_id = {source_id}"},
    )
