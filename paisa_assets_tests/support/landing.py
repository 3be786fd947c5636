"""Driving the landing-zone sensor by hand, the way the daemon applies its results."""

from __future__ import annotations

from dagster import DagsterInstance, RunRequest, SensorResult, SkipReason, build_sensor_context

from paisa_assets.partitions import RANGE_END_TAG, RANGE_START_TAG
from paisa_assets.sensors import landing_zone_sensor
from paisa_assets_tests.conftest import Workspace


def tick(workspace: Workspace, instance: DagsterInstance, cursor: str | None = None):
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"landing_zone": workspace.landing, "lakehouse": workspace.lakehouse},
    )
    return landing_zone_sensor(context)


def requested_folders(instance: DagsterInstance, request: RunRequest) -> list[str]:
    """The folders a request covers: its partition, or every partition of its range."""
    if request.partition_key is not None:
        return [request.partition_key]
    start, end = request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]
    name = "amazon_reviews_folders" if "reviews" in request.job_name else "amazon_metadata_folders"
    order = list(instance.get_dynamic_partitions(name))
    return order[order.index(start) : order.index(end) + 1]


def run_requests(workspace: Workspace, instance: DagsterInstance, result) -> list[RunRequest]:
    """Apply a sensor result the way the daemon does: add partitions, then run each request."""
    assert isinstance(result, SensorResult)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    for request in result.run_requests or []:
        job = workspace.defs.resolve_job_def(request.job_name)
        outcome = job.execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            tags=dict(request.tags),
            raise_on_error=True,
        )
        assert outcome.success
    return list(result.run_requests or [])


def skipped(result) -> bool:
    """A tick that requested nothing (it may still have saved its cursor)."""
    if isinstance(result, SkipReason):
        return True
    return (
        isinstance(result, SensorResult)
        and not result.run_requests
        and not result.dynamic_partitions_requests
    )
