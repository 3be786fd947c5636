"""Work on a clock: retraining, Delta maintenance and the full reconciliation of gold.

Scoring new reviews needs no schedule (gold_job scores them with the champion on every gold
rebuild); retraining is heavier and a daily cadence is what review data moves at. Each cron is
a setting (UTC), so an operator can move the work to their lake's quiet hours.
"""

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from paisa_assets.jobs import maintenance_job, ml_job, reconciliation_job
from paisa_assets.reconciliation import reconciliation_request
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.settings import MAINTENANCE_CRON, ML_RETRAIN_CRON, RECONCILIATION_CRON, resolved
from paisa_assets.tables import GOLD_REVIEWS_ENRICHED


@schedule(
    name="ml_retrain_schedule",
    job=ml_job,
    cron_schedule=resolved(ML_RETRAIN_CRON),
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily at 03:00 UTC by default (PAISA_ML_RETRAIN_CRON): retrain both models on "
    "gold; a new sentiment version takes the champion alias only when it beats the current one "
    "on the same test set. Skipped while gold is empty.",
)
def ml_retrain_schedule(lakehouse: Lakehouse) -> RunRequest | SkipReason:
    if not lakehouse.exists(GOLD_REVIEWS_ENRICHED):
        return SkipReason("gold is empty: nothing to train on yet")
    return RunRequest()


maintenance_schedule = ScheduleDefinition(
    name="maintenance_schedule",
    job=maintenance_job,
    cron_schedule=resolved(MAINTENANCE_CRON),
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily at 04:00 UTC by default (PAISA_MAINTENANCE_CRON): compact, checkpoint and "
    "vacuum every Delta table (files younger than a week are kept, so readers of recent versions "
    "never break).",
)


@schedule(
    name="reconciliation_schedule",
    job=reconciliation_job,
    cron_schedule=resolved(RECONCILIATION_CRON),
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Weekly on Sunday at 05:00 UTC by default (PAISA_RECONCILIATION_CRON): rebuild "
    "gold in full and check every silver and gold table whole (between these runs gold is "
    "updated in place and the blocking checks look at what each run changed). Skipped while "
    "silver is empty; tables not built yet are left out (tag `paisa/not_built_yet`).",
)
def reconciliation_schedule(
    context: ScheduleEvaluationContext, lakehouse: Lakehouse
) -> RunRequest | SkipReason:
    job = context.repository_def.get_job(reconciliation_job.name)
    return reconciliation_request(job, lakehouse)
