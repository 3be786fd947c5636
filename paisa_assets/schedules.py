"""Work on a clock: retraining, Delta maintenance and the full reconciliation of gold.

Scoring new reviews needs no schedule (gold_job scores them with the champion on every gold
rebuild); retraining is heavier and a daily cadence is what review data moves at. Each cron is
a setting (UTC), so an operator can move the work to their lake's quiet hours.
"""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from paisa_assets.jobs import maintenance_job, ml_job, reconciliation_job
from paisa_assets.settings import MAINTENANCE_CRON, ML_RETRAIN_CRON, RECONCILIATION_CRON, resolved

ml_retrain_schedule = ScheduleDefinition(
    name="ml_retrain_schedule",
    job=ml_job,
    cron_schedule=resolved(ML_RETRAIN_CRON),
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily at 03:00 UTC by default (PAISA_ML_RETRAIN_CRON): retrain both models on "
    "gold; a new sentiment version takes the champion alias only when it beats the current one "
    "on the same test set.",
)

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

reconciliation_schedule = ScheduleDefinition(
    name="reconciliation_schedule",
    job=reconciliation_job,
    cron_schedule=resolved(RECONCILIATION_CRON),
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Weekly on Sunday at 05:00 UTC by default (PAISA_RECONCILIATION_CRON): rebuild "
    "gold in full and check every silver and gold table whole (between these runs gold is "
    "updated in place and the blocking checks look at what each run changed).",
)
