"""Stream checks: bronze.eh_streaming reconciled with the hub, partition by partition.

A stream cannot be re-read once its events expire, so "nothing skipped" has to be shown against
the hub's own bounds: every sequence number up to the last enqueued one is held, expired before
ingestion (counted, and a warning), in flight, pending (newer than the last plan), or missing
(a hole no run is fetching: the check fails and names the ranges).
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)

from paisa_assets.jobs import streaming_job
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.run_health import active_runs
from paisa_assets.streaming.plan import reconcile
from paisa_assets.streaming.progress import held_intervals
from paisa_assets.streaming.runs import in_flight_ranges
from paisa_assets.tables import BRONZE_EH_STREAMING, SILVER_REVIEWS_STREAMING, asset_key


@asset_check(
    asset=asset_key(BRONZE_EH_STREAMING),
    # After silver: in a streaming run the check's look at the hub is not on the path from an
    # event's arrival to silver.
    additional_deps=[asset_key(SILVER_REVIEWS_STREAMING)],
    name="reconciles_with_hub",
    description="Per partition of the event source: held + expired before ingestion + in "
    "flight + pending + missing = last enqueued sequence number + 1. Fails when a hole (missing "
    "range) exists that no streaming run is fetching, naming the ranges; warns when events "
    "expired before bronze read them.",
)
def eh_streaming_reconciles_with_hub(
    context: AssetCheckExecutionContext, event_source: EventSource, lakehouse: Lakehouse
) -> AssetCheckResult:
    snapshot = event_source.snapshot()
    flying = in_flight_ranges(active_runs(context.instance, streaming_job.name), snapshot.source_id)
    report = reconcile(snapshot.bounds, held_intervals(lakehouse, snapshot.source_id), flying)
    missing = {
        r.partition_id: [f"{a}-{b}" for a, b in r.missing_ranges] for r in report if r.missing
    }
    expired = sum(r.expired for r in report)
    beyond = sum(r.held_beyond_last for r in report)
    passed = not missing and not beyond
    if not passed:
        description = (f"missing ranges (partition: first-last): {missing}" if missing else "") + (
            f" bronze holds {beyond} event(s) beyond the hub's last" if beyond else ""
        )
    elif expired:
        description = f"{expired} event(s) expired in the hub before bronze read them"
    else:
        description = "every retained event is held, in flight or pending"
    return AssetCheckResult(
        passed=passed and not expired,
        severity=AssetCheckSeverity.ERROR if not passed else AssetCheckSeverity.WARN,
        description=description.strip(),
        metadata={
            "source_id": MetadataValue.text(snapshot.source_id),
            "missing": MetadataValue.int(sum(r.missing for r in report)),
            "missing_ranges": MetadataValue.json(missing),
            "expired_before_ingestion": MetadataValue.int(expired),
            "held": MetadataValue.int(sum(r.held for r in report)),
            "in_flight": MetadataValue.int(sum(r.in_flight for r in report)),
            "pending": MetadataValue.int(sum(r.pending for r in report)),
            "partitions": MetadataValue.json({r.partition_id: r.as_metadata() for r in report}),
        },
    )


stream_checks = [eh_streaming_reconciles_with_hub]
