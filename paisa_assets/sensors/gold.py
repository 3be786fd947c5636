"""The gold sensor: rebuild gold when silver has versions gold was not built from."""

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from paisa_assets.assets.gold import GOLD_INPUTS, INPUTS_KEY, input_versions
from paisa_assets.jobs import gold_job
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.tables import GOLD_REVIEWS_ENRICHED


@sensor(
    name="gold_sensor",
    job=gold_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Rebuilds gold and the warehouse when silver has Delta versions that gold was "
    "not built from (one gold run at a time).",
)
def gold_sensor(context: SensorEvaluationContext, lakehouse: Lakehouse) -> RunRequest | SkipReason:
    """Compare silver's Delta versions with those gold recorded in its last commit.

    The tables are the truth here too: unlike an event-driven condition, an update that lands
    while gold is being rebuilt cannot be missed, because the next tick sees the version gap.
    """
    wanted = input_versions(lakehouse, GOLD_INPUTS)
    if all(version is None for version in wanted.values()):
        return SkipReason("silver is empty: nothing to build gold from yet")
    built = lakehouse.last_commit_metadata(GOLD_REVIEWS_ENRICHED).get(INPUTS_KEY)
    if built == wanted:
        return SkipReason(f"gold is up to date with silver {wanted}")
    active = context.instance.get_run_records(
        RunsFilter(job_name=gold_job.name, statuses=IN_PROGRESS_RUN_STATUSES), limit=1
    )
    if active:
        return SkipReason("a gold run is already queued or running")
    key = ",".join(f"{table}@{version}" for table, version in sorted(wanted.items()))
    return RunRequest(run_key=f"gold:{key}")
