"""The gold sensor: rebuild gold when silver has versions gold was not built from.

The tables are the truth: gold records the silver versions it was built from in its commit, so
an update that lands while gold is being rebuilt cannot be missed (the next tick sees the gap).
One gold run at a time: no request while a gold run is queued or running (Dagster's in-progress
statuses leave out QUEUED), and the `gold` lane of `dagster.yaml` allows one. No run key: a
failed gold run must not make the same request impossible (Dagster never requests a run key
twice); the versions check already avoids duplicate work.
Gold is built only on silver whose blocking checks passed: a failed reconciliation or unique-key
check holds gold back until a later silver run passes it.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetChecksDefinition,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from paisa_assets.checks import asset_checks
from paisa_assets.gold_build import GOLD_INPUTS, INPUTS_KEY, input_versions
from paisa_assets.jobs import gold_job
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.run_health import live_active_runs
from paisa_assets.settings import GOLD_SENSOR_INTERVAL, resolved
from paisa_assets.tables import GOLD_REVIEWS_ENRICHED, asset_key


def blocking_checks_of(
    checks: Sequence[AssetChecksDefinition], tables: Sequence[str]
) -> list[AssetCheckKey]:
    """The blocking asset checks of these tables: what gold must not be built past."""
    keys = {asset_key(table) for table in tables}
    return [
        spec.key
        for definition in checks
        for spec in definition.check_specs
        if spec.blocking and spec.asset_key in keys
    ]


GOLD_GATES = blocking_checks_of(asset_checks, list(GOLD_INPUTS.values()))


def unpassed_checks(instance: DagsterInstance, keys: Sequence[AssetCheckKey]) -> list[str]:
    """The checks among `keys` whose latest say on silver's data is not a pass, each with why.

    A run plans its checks when it is created, so a "planned" record is common: the run is under
    way, or it ended before the check ran. What counts is whether that run wrote the table last:
    if so, no check has seen those rows yet, and gold waits for the outcome (or, when the run
    ended first, for a run that evaluates them: the landing sensor requests the folder again);
    if not (it has not written yet, or failed before writing), the earlier verdict holds, so a
    stream of short runs never starves gold.
    """
    unpassed = []
    for key in keys:
        name = f"{key.asset_key.to_user_string()}:{key.name}"
        latest = instance.get_latest_materialization_event(key.asset_key)
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
        for record in history:
            evaluation = record.evaluation
            if isinstance(evaluation, AssetCheckEvaluation):
                if not evaluation.passed:
                    unpassed.append(f"{name} failed")
                break
            if latest is None or latest.run_id != record.run_id:
                continue  # that run has not written the table: the earlier verdict holds
            run = instance.get_run_by_id(record.run_id)
            if run is not None and not run.is_finished:
                unpassed.append(f"{name} is still running (run {record.run_id[:8]})")
            else:
                unpassed.append(f"{name} was not evaluated (run {record.run_id[:8]} ended first)")
            break
    return unpassed


@sensor(
    name="gold_sensor",
    job=gold_job,
    minimum_interval_seconds=int(resolved(GOLD_SENSOR_INTERVAL)),
    default_status=DefaultSensorStatus.RUNNING,
    description="Rebuilds gold and the warehouse when silver has Delta versions that gold was "
    "not built from and silver's blocking checks passed (one gold run queued or running at a "
    "time).",
)
def gold_sensor(context: SensorEvaluationContext, lakehouse: Lakehouse) -> RunRequest | SkipReason:
    wanted = input_versions(lakehouse, GOLD_INPUTS)
    if all(version is None for version in wanted.values()):
        return SkipReason("silver is empty: nothing to build gold from yet")
    built = lakehouse.last_commit_metadata(GOLD_REVIEWS_ENRICHED).get(INPUTS_KEY)
    if built == wanted:
        return SkipReason(f"gold is up to date with silver {wanted}")
    if live_active_runs(context.instance, gold_job.name, context.log):
        return SkipReason("a gold run is already queued or running")
    unpassed = unpassed_checks(context.instance, GOLD_GATES)
    if unpassed:
        return SkipReason(
            f"silver changed ({wanted}) but its blocking check(s) have not passed "
            f"({'; '.join(unpassed)}): gold waits until a silver run passes them"
        )
    label = ",".join(f"{table}@{version}" for table, version in sorted(wanted.items()))
    return RunRequest(tags={"paisa/silver_versions": label[:200]})
