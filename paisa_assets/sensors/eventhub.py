"""The Event Hubs sensor: whatever the hub has and bronze does not becomes a streaming run.

Thin on purpose: planning is `paisa_assets.streaming.plan`, progress is read from bronze, and
in-flight work from the instance's run records. Requests carry no run key: a key derived from
the ranges would be refused for ever once a run with it failed (the daemon skips a key that
already has a run in any status), and the plan itself already avoids double work.
"""

import json

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from paisa_assets.jobs import streaming_job
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.run_health import live_active_runs
from paisa_assets.settings import (
    EVENTHUB_MAX_EVENTS_PER_RUN,
    EVENTHUB_SENSOR_INTERVAL,
    resolved,
)
from paisa_assets.streaming.plan import plan_ranges
from paisa_assets.streaming.progress import floors, held_intervals
from paisa_assets.streaming.runs import STREAM_OP, in_flight_ranges

# One run writing and one queued behind it keeps the stream busy; more would only queue up
# ranges planned from an older view of the hub.
MAX_RUNS_IN_FLIGHT = 2


@sensor(
    name="eventhub_sensor",
    job=streaming_job,
    minimum_interval_seconds=int(resolved(EVENTHUB_SENSOR_INTERVAL)),
    default_status=DefaultSensorStatus.RUNNING,
    description="Compares each Event Hubs partition's retained range (beginning to last "
    "enqueued sequence number) with what bronze.eh_streaming holds and what streaming runs are "
    "fetching, and requests a run for the rest, holes first (bounded per run).",
)
def eventhub_sensor(
    context: SensorEvaluationContext, event_source: EventSource, lakehouse: Lakehouse
) -> SensorResult | SkipReason:
    """The cursor is only a note of the hub as last planned from (for the UI); nothing depends
    on it, so a lost or reset cursor changes nothing."""
    snapshot = event_source.snapshot()
    runs = live_active_runs(context.instance, streaming_job.name, context.log)
    cursor = json.dumps(
        {"source_id": snapshot.source_id, "last": {p: b.last for p, b in snapshot.bounds.items()}},
        sort_keys=True,
    )
    if len(runs) >= MAX_RUNS_IN_FLIGHT:
        return SkipReason(f"{len(runs)} streaming runs in flight; waiting for one to finish")
    ranges = plan_ranges(
        snapshot.bounds,
        held_intervals(lakehouse, snapshot.source_id, floors(snapshot)),
        in_flight_ranges(runs, snapshot.source_id),
        int(resolved(EVENTHUB_MAX_EVENTS_PER_RUN)),
    )
    if not ranges:
        lasts = {p: b.last for p, b in snapshot.bounds.items()}
        return SkipReason(f"no new events in {event_source.describe()} (last: {lasts})")
    summary = ",".join(f"{r.partition_id}:{r.first}-{r.last}" for r in ranges)
    config = {
        "source_id": snapshot.source_id,
        "ranges": [
            {"partition_id": r.partition_id, "first": r.first, "last": r.last} for r in ranges
        ],
    }
    return SensorResult(
        run_requests=[
            RunRequest(
                run_config={"ops": {STREAM_OP: {"config": config}}},
                tags={"paisa/event_ranges": summary[:200]},
            )
        ],
        cursor=cursor,
    )
