"""Driving the asset graph through a real Dagster instance, for `paisa demo` and tests.

Runs go through the instance (the same SQLite storage `dagster dev` reads), so every
materialization, its metadata and its check results show up in the UI afterwards.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    AssetCheckSeverity,
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
    get_dagster_logger,
)

from paisa_assets.jobs import INGEST_JOBS, gold_job, ml_job, streaming_job
from paisa_assets.partitions import PARTITIONS, natural_key, range_tags
from paisa_assets.resources.landing_zone import DATASETS, LandingZone
from paisa_assets.sensors import partition_key_problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_DAGSTER_YAML = PROJECT_ROOT / "dagster.yaml"


def ensure_dagster_home(default: Path) -> Path:
    """Use $DAGSTER_HOME, else `default`; seed it with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or default).expanduser().absolute()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and PROJECT_DAGSTER_YAML.exists():
        shutil.copyfile(PROJECT_DAGSTER_YAML, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def sync_partitions(instance: DagsterInstance, landing: LandingZone) -> dict[str, list[str]]:
    """Add every landing folder as a dynamic partition (what the sensor does on its ticks);
    a folder whose name cannot be a partition key is skipped with a warning, as by the sensor."""
    added: dict[str, list[str]] = {}
    for dataset in DATASETS:
        name = PARTITIONS[dataset].name
        known = set(instance.get_dynamic_partitions(name))
        folders = set()
        for folder in landing.list_partitions(dataset):
            problem = partition_key_problem(folder)
            if problem is None:
                folders.add(folder)
            else:
                get_dagster_logger("paisa").warning(
                    f"skipped landing folder {dataset}/{folder!r}: {problem}"
                )
        new = sorted(folders - known, key=natural_key)
        if new:
            instance.add_dynamic_partitions(name, new)
        added[dataset] = new
    return added


@dataclass
class RunSummary:
    job: str
    run_id: str
    success: bool
    partitions: int
    failed_checks: list[str]


def summarize(job: str, result: ExecuteInProcessResult, partitions: int) -> RunSummary:
    failed = [  # warnings (e.g. unreadable landing files, already quarantined) do not fail
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    ]
    return RunSummary(job, result.run_id, result.success, partitions, failed)


def ingest_dataset(
    instance: DagsterInstance, defs: Definitions, dataset: str, run_config: dict
) -> tuple[ExecuteInProcessResult, int] | None:
    """One single-run backfill of the dataset's ingestion job over every known folder (the
    result and the number of folders), or None when no folder is known yet."""
    keys = instance.get_dynamic_partitions(PARTITIONS[dataset].name)
    if not keys:
        return None
    result = defs.resolve_job_def(INGEST_JOBS[dataset].name).execute_in_process(
        instance=instance,
        tags=range_tags(keys[0], keys[-1]),
        run_config=run_config,
        raise_on_error=False,
    )
    return result, len(keys)


def materialize_everything(
    instance: DagsterInstance,
    defs: Definitions,
    log_level: str = "DEBUG",
    *,
    include_ml: bool = False,
) -> list[RunSummary]:
    """Ingest every known folder of both datasets (one run each) and the new stream events,
    then rebuild gold, and with `include_ml` train the models and score gold with them.

    `log_level` only filters what reaches the console; the instance keeps every event.
    """
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    summaries: list[RunSummary] = []
    for dataset in ("amazon_metadata", "amazon_reviews"):
        ingested = ingest_dataset(instance, defs, dataset, run_config)
        if ingested is None:
            continue
        result, partitions = ingested
        summaries.append(summarize(result.job_def.name, result, partitions))
        if not result.success:
            return summaries
    # With no ranges given, the streaming run takes every event the tables do not hold yet.
    stream_config = run_config | {"ops": {"bronze__eh_streaming": {"config": {"ranges": []}}}}
    result = defs.resolve_job_def(streaming_job.name).execute_in_process(
        instance=instance, run_config=stream_config, raise_on_error=False
    )
    summaries.append(summarize(streaming_job.name, result, 0))
    if not result.success:
        return summaries
    for job in (gold_job, ml_job) if include_ml else (gold_job,):
        result = defs.resolve_job_def(job.name).execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False
        )
        summaries.append(summarize(job.name, result, 0))
        if not result.success:
            break
    return summaries
