"""What a streaming step has to do, read from the tables and the instance, never a cursor: the
ranges a run fetches beyond its plan, and the events each later step has not decided yet.
"""

import polars as pl
from dagster import (
    AssetExecutionContext,
    Config,
)
from pydantic import Field

from paisa_assets.events import SequenceRange, SourceSnapshot
from paisa_assets.jobs import streaming_job
from paisa_assets.lake_views import scan_table
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.run_health import active_runs, fail_runs_with_dead_workers
from paisa_assets.settings import EVENTHUB_MAX_EVENTS_PER_RUN, resolved
from paisa_assets.streaming.plan import plan_ranges
from paisa_assets.streaming.progress import floors, held_intervals
from paisa_assets.streaming.runs import in_flight_ranges
from paisa_assets.transforms.stream_events import (
    EH_STREAMING_SCHEMA,
    EVENT_KEY,
    address_key,
)

STREAM_DATASET = "eh_streaming"
SILVER_STREAM_DATASET = "reviews_streaming"
# The earliest enqueued copy of a review wins, then the lowest (partition, sequence number).
EARLIEST_ENQUEUED_WINS = (
    "s.enqueued_time < t.enqueued_time OR (s.enqueued_time = t.enqueued_time AND "
    "(s._source_file < t._source_file OR (s._source_file = t._source_file AND s._line < t._line)))"
)


class StreamRange(Config):
    partition_id: str
    first: int
    last: int


class StreamBatchConfig(Config):
    """Which events this run ingests; the sensor fills `ranges` (and `source_id`, the source it
    planned from, so that in-flight ranges of another source are not taken for this one's).
    Whatever the config says, the run also takes, up to `max_events_per_partition` in all (by
    default PAISA_EVENTHUB_MAX_EVENTS_PER_RUN), the events that arrived since it was planned and
    no other run is fetching: a run queued behind another starts with the freshest plan, not
    the one made when it was queued. Left empty (a run launched by hand), that is all it takes."""

    ranges: list[StreamRange] = Field(default_factory=list)
    source_id: str = ""
    max_events_per_partition: int | None = None


def newer_ranges(
    context: AssetExecutionContext,
    config: StreamBatchConfig,
    snapshot: SourceSnapshot,
    lakehouse: Lakehouse,
    planned: list[SequenceRange],
) -> list[SequenceRange]:
    """What this run can take on beyond `planned`: retained events not held and not in flight in
    another run, within what is left of the per-partition limit."""
    limit = config.max_events_per_partition or int(resolved(EVENTHUB_MAX_EVENTS_PER_RUN))
    others = [
        record
        for record in active_runs(context.instance, streaming_job.name)
        if record.dagster_run.run_id != context.run_id
    ]
    # A run killed with no daemon to notice (an in-process run, `paisa demo`) would otherwise
    # keep its ranges "in flight" for ever.
    dead = fail_runs_with_dead_workers(context.instance, others)
    for record in dead:
        context.log.warning(f"run {record.dagster_run.run_id}: worker gone, marked failed")
    others = [record for record in others if record not in dead]
    taken = in_flight_ranges(others, snapshot.source_id)
    budget = {pid: limit for pid in snapshot.bounds}
    for own in planned:
        taken.setdefault(own.partition_id, []).append((own.first, own.last))
        budget[own.partition_id] = budget.get(own.partition_id, limit) - own.size
    held = held_intervals(lakehouse, snapshot.source_id, floors(snapshot))
    return plan_ranges(snapshot.bounds, held, taken, budget)


def pending_events(
    lakehouse: Lakehouse, source: tuple[str, pl.Schema], done: list[pl.LazyFrame]
) -> pl.DataFrame:
    """Rows of the `source` table whose event key is in none of the `done` key sets: the work
    of a streaming step, read from the tables rather than a cursor."""
    table, schema = source
    rows = lakehouse.scan(table)
    if rows is None:
        rows = pl.LazyFrame(schema=schema)
    return rows.join(pl.concat(done), on=EVENT_KEY, how="anti").collect()


def event_keys(lakehouse: Lakehouse, table: str) -> pl.LazyFrame:
    scan = lakehouse.scan(table)
    if scan is None:
        return pl.LazyFrame(schema={k: EH_STREAMING_SCHEMA[k] for k in EVENT_KEY})
    return scan.select(EVENT_KEY)


def quarantined_event_keys(lakehouse: Lakehouse, table: str, dataset: str) -> pl.LazyFrame:
    """Keys of quarantined events, read back from their address (`_source_file`, `_line`)."""
    scan = scan_table(lakehouse, table)
    if scan is None:
        return pl.LazyFrame(schema={k: EH_STREAMING_SCHEMA[k] for k in EVENT_KEY})
    return scan.filter(pl.col("dataset") == dataset).select(
        address_key(pl.col("_source_file"), pl.col("_line"))
    )
