"""The Event Hubs sensor: missing sequence ranges become streaming runs."""

import json

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from paisa_assets.assets.streaming import ingested_sequences, next_ranges
from paisa_assets.jobs import streaming_job
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.settings import (
    EVENTHUB_MAX_EVENTS_PER_RUN,
    EVENTHUB_SENSOR_INTERVAL,
    resolved,
)


@sensor(
    name="eventhub_sensor",
    job=streaming_job,
    minimum_interval_seconds=int(resolved(EVENTHUB_SENSOR_INTERVAL)),
    default_status=DefaultSensorStatus.RUNNING,
    description="Compares each Event Hubs partition's last enqueued sequence number with what "
    "bronze.eh_streaming holds and requests a streaming run for the missing ranges (bounded).",
)
def eventhub_sensor(
    context: SensorEvaluationContext, event_source: EventSource, lakehouse: Lakehouse
) -> SensorResult | SkipReason:
    """The tables say where each partition stands; the cursor only remembers what was requested
    while those runs are still in flight, so that a tick does not request the same events twice.
    With no streaming run in flight the cursor is ignored: a failed run's range is requested
    again, and a reset cursor loses nothing."""
    last = event_source.last_sequence_numbers()
    in_flight = context.instance.get_run_records(
        RunsFilter(job_name=streaming_job.name, statuses=IN_PROGRESS_RUN_STATUSES), limit=1
    )
    requested = json.loads(context.cursor) if context.cursor and in_flight else {}
    limit = int(resolved(EVENTHUB_MAX_EVENTS_PER_RUN))
    ranges = next_ranges(ingested_sequences(lakehouse), last, limit, floor=requested)
    if not ranges:
        return SkipReason(f"no new events in {event_source.describe()} (last: {last})")
    key = ",".join(f"{r.partition_id}:{r.first}-{r.last}" for r in ranges)
    config = {
        "ranges": [
            {"partition_id": r.partition_id, "first": r.first, "last": r.last} for r in ranges
        ]
    }
    requested.update({r.partition_id: r.last for r in ranges})
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"eventhub:{key}",
                run_config={"ops": {"bronze__eh_streaming": {"config": config}}},
                tags={"paisa/event_ranges": key[:200]},
            )
        ],
        cursor=json.dumps(requested, sort_keys=True),
    )
