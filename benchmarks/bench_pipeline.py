"""The paisa pipeline end to end through Dagster: landing files -> bronze -> silver -> gold.

Runs exactly what `paisa demo` runs for the batch data (one ingestion run per landing dataset
over every folder, then one gold run), on a fresh Dagster instance with SQLite storage, and
reads each step's start and end from the instance's event log, so the per-layer times are the
ones the Dagster UI shows. Asset checks (unique keys, rating range, bronze = silver +
quarantined + duplicates) run as in production and are timed separately.

The gold run selects the gold tables and the warehouse file only: the sentiment scoring in
`gold_job` belongs to the ML benchmark, not to the lakehouse's.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("bronze", "silver", "gold")


def _step_times(instance: Any, run_id: str, asset_steps: set[str]) -> list[dict[str, Any]]:
    steps = []
    for stats in instance.get_run_step_stats(run_id):
        if stats.start_time is None or stats.end_time is None:
            continue
        layer = stats.step_key.split("__", 1)[0]
        steps.append(
            {
                "step": stats.step_key,
                "layer": layer if layer in LAYERS else "serving",
                "kind": "asset" if stats.step_key in asset_steps else "check",
                "seconds": round(stats.end_time - stats.start_time, 3),
                "start": stats.start_time,
                "end": stats.end_time,
            }
        )
    return steps


def _bookkeeping(instance: Any, run_id: str) -> dict[str, Any]:
    """What Dagster's own records of a run cost: every event it stored, and the time spent
    writing the per-folder ones (one planned and one materialization event per landing folder
    and asset, each its own SQLite transaction).

    Those are written back to back (the planned ones when the run is created, the
    materializations when a step returns), so their timestamps measure the writes: the span of
    each series, plus one interval for its last write.
    """
    from dagster import DagsterEventType

    kinds = (
        DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
        DagsterEventType.ASSET_MATERIALIZATION,
    )
    records = instance.all_logs(run_id)
    series: dict[tuple[Any, str | None], list[float]] = {}
    for record in records:
        event = record.dagster_event
        if event is not None and event.event_type in kinds and event.partition is not None:
            series.setdefault((event.event_type, record.step_key), []).append(record.timestamp)
    seconds = sum(
        (max(times) - min(times)) * len(times) / (len(times) - 1)
        for times in series.values()
        if len(times) > 1
    )
    partition_events = sum(len(times) for times in series.values())
    return {
        "events": len(records),
        "partition_events": partition_events,
        "partition_event_seconds": round(seconds, 3),
    }


def run_pipeline(landing: Path, work: Path, *, profile: Path | None = None) -> dict[str, Any]:
    """Materialize bronze -> silver -> gold on `landing`, writing the lake under `work`."""
    started = time.perf_counter()
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)

    from dagster import (
        AssetKey,
        AssetSelection,
        DagsterInstance,
        Definitions,
        define_asset_job,
    )

    from paisa_assets.definitions import build_definitions
    from paisa_assets.resources.lakehouse import Lakehouse
    from paisa_assets.resources.landing_zone import LocalLandingZone
    from paisa_assets.resources.local_event_log import LocalEventLog
    from paisa_assets.resources.warehouse import Warehouse
    from paisa_assets.runner import ingest_dataset, sync_partitions
    from paisa_assets.tables import GOLD_TABLES, asset_key

    landing_zone = LocalLandingZone(root=str(landing))
    lakehouse = Lakehouse(root=str(work / "lake"))
    gold_keys = [asset_key(t) for t in GOLD_TABLES] + [AssetKey(["warehouse", "duckdb"])]
    gold_job = define_asset_job("benchmark_gold_job", selection=AssetSelection.assets(*gold_keys))
    defs = Definitions.merge(
        build_definitions(
            landing_zone=landing_zone,
            lakehouse=lakehouse,
            warehouse=Warehouse(path=str(work / "warehouse.duckdb")),
            event_source=LocalEventLog(root=str(work / "events")),
        ),
        Definitions(jobs=[gold_job]),
    )
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    asset_steps = {"__".join(key.path) for key in defs.resolve_asset_graph().get_all_asset_keys()}
    startup = time.perf_counter() - started

    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()

    runs: list[dict[str, Any]] = []
    with DagsterInstance.get() as instance:
        pipeline_started = time.perf_counter()
        sync_partitions(instance, landing_zone)
        for dataset in ("amazon_metadata", "amazon_reviews"):
            run_started = time.perf_counter()
            ingested = ingest_dataset(instance, defs, dataset, run_config)
            assert ingested is not None, f"no landing folder of {dataset}"
            result, partitions = ingested
            if not result.success:
                raise RuntimeError(f"{result.job_def.name} failed (run {result.run_id})")
            runs.append(
                {
                    "job": result.job_def.name,
                    "partitions": partitions,
                    "seconds": round(time.perf_counter() - run_started, 3),
                    "steps": _step_times(instance, result.run_id, asset_steps),
                    "bookkeeping": _bookkeeping(instance, result.run_id),
                }
            )
        run_started = time.perf_counter()
        result = defs.resolve_job_def(gold_job.name).execute_in_process(
            instance=instance, run_config=run_config
        )
        runs.append(
            {
                "job": gold_job.name,
                "partitions": 0,
                "seconds": round(time.perf_counter() - run_started, 3),
                "steps": _step_times(instance, result.run_id, asset_steps),
                "bookkeeping": _bookkeeping(instance, result.run_id),
            }
        )
        pipeline_seconds = time.perf_counter() - pipeline_started

    if profiler is not None:
        profiler.stop()
        profile.parent.mkdir(parents=True, exist_ok=True)
        profile.with_suffix(".html").write_text(profiler.output_html())
        profile.with_suffix(".txt").write_text(
            profiler.output_text(unicode=False, color=False, show_all=False)
        )

    return summarize(lakehouse, runs, startup, pipeline_seconds)


def _dagster_cli_run(
    env: dict[str, str], job: str, tags: dict[str, str], config: Path, log: Path
) -> tuple[float, float]:
    """`dagster job execute` of one benchmark job in a new process; its wall and CPU time."""
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "job",
        "execute",
        "-f",
        str(PROJECT_ROOT / "benchmarks" / "bench_definitions.py"),
        "-a",
        "defs",
        "-j",
        job,
        "-c",
        str(config),
    ]
    if tags:
        command += ["--tags", json.dumps(tags)]
    started = time.perf_counter()
    cpu_before = _children_cpu_seconds()
    with log.open("ab") as output:
        completed = subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=output, check=False
        )
    if completed.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{job} failed (exit code {completed.returncode}):\n{tail}")
    return time.perf_counter() - started, _children_cpu_seconds() - cpu_before


def _children_cpu_seconds() -> float:
    """CPU time of the finished child processes (and theirs: the parse workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pipeline_cli(landing: Path, work: Path) -> dict[str, Any]:
    """The same three runs as `run_pipeline`, each started with `dagster job execute` in a new
    process on the project's instance configuration: the process imports the code location
    and runs the job's steps with `in_process_executor`, as a run worker the daemon launches
    does (`dagster api execute_run`), minus the queue. Run times are the runs' own records
    (start to end); the processes' imports are reported apart, as Spark's JVM start is."""
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    from instance_env import paisa_env

    env = paisa_env(work) | {"PAISA_LANDING_ROOT": str(landing)}
    os.environ.update(env)
    started = time.perf_counter()

    import psutil
    from bench_definitions import BENCHMARK_GOLD_JOB
    from bench_definitions import defs as benchmark_defs
    from dagster import DagsterInstance, RunsFilter

    from paisa_assets.jobs import INGEST_JOBS
    from paisa_assets.partitions import PARTITIONS, range_tags
    from paisa_assets.resources.lakehouse import Lakehouse
    from paisa_assets.resources.landing_zone import LocalLandingZone
    from paisa_assets.runner import sync_partitions

    asset_steps = {
        "__".join(key.path) for key in benchmark_defs.resolve_asset_graph().get_all_asset_keys()
    }
    config = work / "run_config.yaml"
    config.write_text("loggers:\n  console:\n    config:\n      log_level: WARNING\n")
    log = work / "dagster_cli.log"
    startup = time.perf_counter() - started

    runs: list[dict[str, Any]] = []
    pipeline_started = time.perf_counter()
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        sync_partitions(instance, LocalLandingZone(root=str(landing)))
    # This process only waits while the runs' processes work: its memory, counted in the
    # stage's tree, is not paisa's (the figures subtract it).
    driver_rss_mib = psutil.Process().memory_info().rss / 2**20
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        plan: list[tuple[str, dict[str, str], int]] = []
        for dataset in ("amazon_metadata", "amazon_reviews"):
            keys = instance.get_dynamic_partitions(PARTITIONS[dataset].name)
            if not keys:
                raise RuntimeError(f"no landing folder of {dataset}")
            plan.append((INGEST_JOBS[dataset].name, range_tags(keys[0], keys[-1]), len(keys)))
        plan.append((BENCHMARK_GOLD_JOB, {}, 0))
    for job, tags, partitions in plan:
        process_seconds, cpu_seconds = _dagster_cli_run(env, job, tags, config, log)
        with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            (record,) = instance.get_run_records(RunsFilter(job_name=job), limit=1)
            run_id = record.dagster_run.run_id
            runs.append(
                {
                    "job": job,
                    "partitions": partitions,
                    "seconds": round(record.end_time - record.start_time, 3),
                    "process_seconds": round(process_seconds, 3),
                    "process_cpu_seconds": round(cpu_seconds, 2),
                    "steps": _step_times(instance, run_id, asset_steps),
                    "bookkeeping": _bookkeeping(instance, run_id),
                }
            )
    wall = time.perf_counter() - pipeline_started
    run_seconds = sum(run["seconds"] for run in runs)
    result = summarize(Lakehouse(root=env["PAISA_LAKE_ROOT"]), runs, startup, run_seconds)
    result["path"] = "dagster job execute (in_process_executor), one process per run"
    result["memory_limits"] = memory_limits()
    result["process_startup_seconds"] = round(wall - run_seconds, 3)
    result["process_cpu_seconds"] = round(sum(run["process_cpu_seconds"] for run in runs), 2)
    result["driver_rss_mib"] = round(driver_rss_mib, 1)
    result["with_process_startup_seconds"] = round(wall, 3)
    return result


def memory_limits() -> dict[str, Any]:
    """paisa's memory knobs as this run had them (the project's defaults: nothing is set)."""
    from paisa_assets.delta_duckdb import PLAN_MEMORY_LIMIT
    from paisa_assets.resources.warehouse import Warehouse
    from paisa_assets.transforms.gold import BATCH_ROWS
    from paisa_assets.transforms.parallel_parse import default_workers

    return {
        "duckdb_memory_limit_gold_and_checks": Warehouse(path="unused").memory_limit,
        "duckdb_memory_limit_merge_plans": PLAN_MEMORY_LIMIT,
        "gold_batch_rows": BATCH_ROWS,
        "bronze_parse_workers": default_workers(),
    }


def folder_mib(folder: Path) -> float:
    """Bytes under `folder` (every file, the Delta log included), in MiB."""
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def table_mib(lakehouse: Any, table: str) -> float:
    path = Path(lakehouse.uri(table))
    return folder_mib(path) if path.exists() else 0.0


def summarize(
    lakehouse: Any, runs: list[dict[str, Any]], startup: float, pipeline_seconds: float
) -> dict[str, Any]:
    """Per-layer figures from the runs' steps, and every table's rows and size on disk."""
    from paisa_assets.lake_views import count_view
    from paisa_assets.tables import (
        BRONZE_METADATA,
        BRONZE_QUARANTINE,
        BRONZE_REVIEWS,
        GOLD_REVIEWS_ENRICHED,
        GOLD_TABLES,
        SILVER_METADATA,
        SILVER_QUARANTINE,
        SILVER_REVIEWS,
    )

    counts = {
        table: count_view(lakehouse, table)
        if table in (BRONZE_QUARANTINE, SILVER_QUARANTINE)
        else lakehouse.count(table)
        for table in (
            BRONZE_REVIEWS,
            BRONZE_METADATA,
            BRONZE_QUARANTINE,
            SILVER_REVIEWS,
            SILVER_METADATA,
            SILVER_QUARANTINE,
            *GOLD_TABLES,
        )
    }
    steps = [step for run in runs for step in run["steps"]]
    bronze_rows = counts[BRONZE_REVIEWS] + counts[BRONZE_METADATA]
    rows_in = {
        "bronze": bronze_rows + counts[BRONZE_QUARANTINE],  # every landing line
        "silver": bronze_rows,
        "gold": counts[SILVER_REVIEWS] + counts[SILVER_METADATA],
    }
    rows_out = {
        "bronze": bronze_rows,
        "silver": counts[SILVER_REVIEWS] + counts[SILVER_METADATA],
        "gold": counts[GOLD_REVIEWS_ENRICHED],
    }
    layers = {}
    for layer in LAYERS:
        asset_seconds = sum(
            s["seconds"] for s in steps if s["layer"] == layer and s["kind"] == "asset"
        )
        check_seconds = sum(
            s["seconds"] for s in steps if s["layer"] == layer and s["kind"] == "check"
        )
        layers[layer] = {
            "seconds": round(asset_seconds, 3),
            "check_seconds": round(check_seconds, 3),
            "rows_in": rows_in[layer],
            "rows_out": rows_out[layer],
            "rows_per_second": round(rows_in[layer] / asset_seconds) if asset_seconds else 0,
        }
    serving = sum(s["seconds"] for s in steps if s["layer"] == "serving")
    return {
        "startup_seconds": round(startup, 3),
        "pipeline_seconds": round(pipeline_seconds, 3),
        "layers": layers,
        "serving_seconds": round(serving, 3),
        "checks_seconds": round(sum(s["seconds"] for s in steps if s["kind"] == "check"), 3),
        "dagster_overhead_seconds": round(pipeline_seconds - sum(s["seconds"] for s in steps), 3),
        "dagster_bookkeeping": {
            key: round(sum(run["bookkeeping"][key] for run in runs), 3)
            for key in ("events", "partition_events", "partition_event_seconds")
        },
        "runs": runs,
        "table_rows": counts,
        "table_mib": {table: table_mib(lakehouse, table) for table in counts},
        "lake_mib": folder_mib(Path(lakehouse.root)),
    }
