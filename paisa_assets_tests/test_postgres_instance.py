"""The production instance (deploy/dagster.postgres.yaml) on a real PostgreSQL server: the
daemon, its sensors and concurrent runs keep their state in Postgres and ingest exactly what
landed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunRecord

from paisa_assets.generator.stream import generated_payloads
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.tables import (
    BRONZE_REVIEWS,
    GOLD_KPIS,
    SILVER_METADATA,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets_tests.conftest import local_settings_env, make_workspace, product, review
from paisa_assets_tests.support.daemon import BIN, REPO, running_daemon, wait_for
from paisa_assets_tests.support.postgres import running_postgres

pytestmark = pytest.mark.slow

INGEST_JOB_NAMES = {"reviews_ingest_job", "metadata_ingest_job"}


def launch_time(instance: DagsterInstance, record: RunRecord) -> float:
    """When the run queue launched the run (its STARTING event, written by the daemon)."""
    (starting,) = instance.get_records_for_run(
        record.dagster_run.run_id, of_type=DagsterEventType.RUN_STARTING
    ).records
    return starting.event_log_entry.timestamp


def test_daemon_sensors_and_concurrent_runs_on_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = make_workspace(tmp_path)
    lake = workspace.lakehouse
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    # Both datasets at once: one tick requests a reviews run and a metadata run, which the
    # ingest lane (two slots) and their separate pools let run at the same time.
    workspace.write_landing_file(
        "amazon_reviews/partition_0/part-00000.json.gz", [review(n) for n in range(6)]
    )
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-00000.json.gz", [product(n) for n in range(7)]
    )

    def gold_reviews() -> int:
        return int(lake.read(GOLD_KPIS)["reviews"][0]) if lake.exists(GOLD_KPIS) else -1

    with running_postgres() as postgres:
        # This process opens the same instance to read runs: it needs the variables too.
        for name, value in postgres.dagster_env().items():
            monkeypatch.setenv(name, value)
        with running_daemon(
            tmp_path,
            PAISA_LANDING_SENSOR_INTERVAL_SECONDS="3",
            PAISA_EVENTHUB_SENSOR_INTERVAL_SECONDS="3",
            **postgres.dagster_env(),
        ) as daemon:
            with daemon.instance() as instance:
                assert type(instance.run_storage).__name__ == "PostgresRunStorage"
                assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
                assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"

            wait_for(lambda: gold_reviews() == 6, 300, "gold to show the first 6 reviews")
            LocalEventLog(root=str(tmp_path / "events")).publish(generated_payloads(20, seed=5))
            wait_for(lambda: gold_reviews() == 26, 300, "gold to show 20 stream reviews")

            # The gold run goes on (warehouse, dashboard) after gold.kpis is written.
            wait_for(
                lambda: all(r.dagster_run.is_finished for r in daemon.runs()),
                300,
                "every run to finish",
            )
            runs = daemon.runs()
            with daemon.instance() as instance:
                materialized = instance.get_materialized_partitions(
                    AssetKey(["silver", "amazon_reviews"])
                )
                heartbeats = instance.get_daemon_heartbeats()
                launched = {r.dagster_run.run_id: launch_time(instance, r) for r in runs}
        log = daemon.log()

    assert {
        r.dagster_run.job_name: r.dagster_run.status
        for r in runs
        if r.dagster_run.status != DagsterRunStatus.SUCCESS
    } == {}, log[-3000:]
    ingest = [r for r in runs if r.dagster_run.job_name in INGEST_JOB_NAMES]
    assert sorted(r.dagster_run.job_name for r in ingest) == sorted(INGEST_JOB_NAMES)
    # The queue let both go at once (two ingest slots, separate pools): the second run was
    # launched before the first ended. Launch times, not the workers' start times: a run
    # worker's start-up (seconds of imports) on a loaded machine says nothing about the queue.
    (first, second) = sorted(ingest, key=lambda r: launched[r.dagster_run.run_id])
    assert launched[second.dagster_run.run_id] < first.end_time, "the queue serialised them"
    assert {r.dagster_run.job_name for r in runs} >= {"streaming_job", "gold_job"}
    assert materialized == {"partition_0"}
    assert "SENSOR" in heartbeats
    assert lake.count(BRONZE_REVIEWS) == 6
    assert lake.count(SILVER_REVIEWS) == 6
    assert lake.count(SILVER_METADATA) == 7
    assert lake.count(SILVER_REVIEWS_STREAMING) == 20
    # Nothing fell back to SQLite files, and the password never reached the logs.
    assert sorted(p.name for p in home.rglob("*.db")) == []
    assert postgres.password not in log


def test_paisa_demo_runs_on_the_postgres_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`paisa demo` with DAGSTER_HOME holding the production file: its runs are in Postgres."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    with running_postgres() as postgres:
        env = (
            os.environ
            | local_settings_env(tmp_path)
            | {"DAGSTER_HOME": str(home)}
            | postgres.dagster_env()
        )
        result = subprocess.run(
            # 2,000 reviews: on fewer, the recommender's significance gate (p < 0.01 over
            # popularity) rightly fails and the demo reports it.
            [str(BIN / "paisa"), "demo", "--reviews", "2000", "--stream-events", "50"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        for name, value in postgres.dagster_env().items():
            monkeypatch.setenv(name, value)
        with DagsterInstance.from_config(str(home)) as instance:
            jobs = sorted(r.dagster_run.job_name for r in instance.get_run_records())
            statuses = {r.dagster_run.status for r in instance.get_run_records()}
    assert {"streaming_job", "gold_job", "ml_job"} <= set(jobs)
    assert statuses == {DagsterRunStatus.SUCCESS}
    assert Lakehouse(root=str(tmp_path / "lake")).read(GOLD_KPIS)["reviews"].to_list() == [2050]
    assert sorted(p.name for p in home.rglob("*.db")) == []
    assert postgres.password not in result.stdout + result.stderr
