"""Retraining on a clock: models follow the data without anyone launching a run.

Scoring new reviews needs no schedule (gold_job scores them with the champion on every gold
rebuild); retraining is heavier and a daily cadence is what review data moves at.
"""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from paisa_assets.jobs import maintenance_job, ml_job, reconciliation_job

ml_retrain_schedule = ScheduleDefinition(
    name="ml_retrain_schedule",
    job=ml_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily at 03:00 UTC: retrain both models on gold; a new sentiment version takes "
    "the champion alias only when it beats the current one on the same test set.",
)

maintenance_schedule = ScheduleDefinition(
    name="maintenance_schedule",
    job=maintenance_job,
    cron_schedule="0 4 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily at 04:00 UTC: compact, checkpoint and vacuum every Delta table (files "
    "younger than a week are kept, so readers of recent versions never break).",
)

reconciliation_schedule = ScheduleDefinition(
    name="reconciliation_schedule",
    job=reconciliation_job,
    cron_schedule="0 5 * * 0",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Weekly on Sunday at 05:00 UTC: rebuild gold in full and check every silver and "
    "gold table whole (between these runs gold is updated in place and the blocking checks look "
    "at what each run changed).",
)
