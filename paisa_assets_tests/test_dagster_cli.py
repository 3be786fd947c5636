"""The real `dagster` and `paisa` command lines against a temporary DAGSTER_HOME."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from paisa_assets.generator import generate_landing_zone
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.tables import (
    BRONZE_REVIEWS,
    GOLD_KPIS,
    GOLD_REVIEW_SENTIMENT,
    SILVER_METADATA,
    SILVER_REVIEWS,
)
from paisa_assets_tests.conftest import local_settings_env
from paisa_assets_tests.support.daemon import BIN, REPO, dagster_env, running_daemon, wait_for

pytestmark = pytest.mark.slow

README = REPO / "README.md"


def documented_commands() -> list[str]:
    """The shell commands of the README's "Driving it" block, continuation lines joined."""
    text = README.read_text()
    section = text[text.index("## Driving it") :]
    section = section[: section.index("\n## ", 1)]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = block.replace("\\\n", " ").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return dagster_env(tmp_path, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def run(command: list[str] | str, env: dict[str, str]) -> str:
    """Run a command (a string goes through the shell, as typed from the README); it must
    succeed and print no supersession warning."""
    result = subprocess.run(
        command,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        shell=isinstance(command, str),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{command}\n{output[-4000:]}"
    assert "SupersessionWarning" not in output, command
    return result.stdout


def test_the_readmes_commands_succeed_and_the_backfill_runs_on_the_daemon(
    cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = documented_commands()
    backfills = [command for command in commands if " job backfill " in command]
    assert len(backfills) == 1 and "--location paisa" in backfills[0]
    assert any(command.startswith("dg launch --job ml_job") for command in commands)
    report = generate_landing_zone(
        tmp_path / "landing",
        reviews=2_000,
        review_partitions=12,
        metadata_partitions=2,
        seed=7,
        progress=False,
    )
    lake = Lakehouse(root=cli_env["PAISA_LAKE_ROOT"])
    monkeypatch.setenv("DAGSTER_HOME", cli_env["DAGSTER_HOME"])
    silver_reviews = AssetKey(["silver", "amazon_reviews"])

    for command in commands:
        if command not in backfills:
            run(command, cli_env)
    with DagsterInstance.get() as instance:
        done = instance.get_materialized_partitions(silver_reviews)
    assert done == {f"partition_{n}" for n in range(10)}
    assert lake.count(SILVER_METADATA) == report.metadata.unique_keys
    assert lake.exists(GOLD_REVIEW_SENTIMENT)
    before = lake.count(SILVER_REVIEWS)
    assert 0 < before < report.reviews.unique_keys
    assert lake.read(GOLD_KPIS)["reviews"].to_list() == [before]
    out = run([str(BIN / "paisa"), "sql", "select reviews from gold.kpis"], cli_env)
    assert f"│ {before}" in out

    # The backfill only queues runs: the daemon (location "paisa" from workspace.yaml) runs them.
    # Its sensors are slowed down so that only the backfill's runs write the lake.
    with running_daemon(
        tmp_path,
        PATH=cli_env["PATH"],
        PAISA_LANDING_SENSOR_INTERVAL_SECONDS="100000",
        PAISA_EVENTHUB_SENSOR_INTERVAL_SECONDS="100000",
    ) as daemon:
        run(backfills[0], cli_env)
        with daemon.instance() as instance:
            (backfill,) = instance.get_backfills()
            in_backfill = RunsFilter(tags={"dagster/backfill": backfill.backfill_id})

            def backfill_runs() -> list:
                """The backfill's runs and their retries (a retry made after the backfill
                completed no longer carries its tag, but names its first attempt)."""
                first = [r.dagster_run for r in instance.get_run_records(in_backfill)]
                if not first:
                    return []
                retried = RunsFilter(tags={"dagster/root_run_id": [r.run_id for r in first]})
                return first + [r.dagster_run for r in instance.get_run_records(retried)]

            def succeeded() -> set[str]:
                return {
                    run.tags["dagster/partition"]
                    for run in backfill_runs()
                    if run.status == DagsterRunStatus.SUCCESS
                }

            # A job backfill is "COMPLETED" once its runs are submitted; then they must succeed.
            # A run that failed (a launch that timed out on a loaded machine, say) is retried by
            # the daemon (`run_retries` in dagster.yaml): each folder needs one successful run.
            wanted = {"partition_10", "partition_11"}
            try:
                wait_for(
                    lambda: succeeded() == wanted and all(r.is_finished for r in backfill_runs()),
                    400,
                    "a successful run of each folder of the backfill",
                )
            except AssertionError as error:
                raise AssertionError(
                    daemon.failures([r.run_id for r in backfill_runs()])
                ) from error
            status = instance.get_backfill(backfill.backfill_id).status.value
            runs = backfill_runs()
            done = instance.get_materialized_partitions(silver_reviews)
            failed = [r for r in runs if r.status != DagsterRunStatus.SUCCESS]
            why = daemon.failures([r.run_id for r in failed])
        log = daemon.log()
    finished_with = {"COMPLETED", "COMPLETED_SUCCESS"} | ({"COMPLETED_FAILED"} if failed else set())
    assert status in finished_with, log[-3000:]
    # Every failed run was a first attempt the daemon retried, and says why it failed (in the
    # CI log's warnings: a retry must not hide a failure for good).
    assert all(r.tags.get("dagster/will_retry") == "true" for r in failed), why
    assert len(runs) == 2 + len(failed), why
    if failed:
        warnings.warn(f"backfill runs failed and were retried: {why}", stacklevel=1)
    assert "DagsterCodeLocationNotFoundError" not in log
    assert done == {f"partition_{n}" for n in range(12)}
    assert lake.count(SILVER_REVIEWS) == report.reviews.unique_keys
    assert lake.read(BRONZE_REVIEWS)["_partition"].n_unique() == 12


def test_sql_on_a_missing_warehouse_is_a_clear_error(cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(BIN / "paisa"), "sql", "select 1"], env=cli_env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "no warehouse at" in result.stderr
    assert "Traceback" not in result.stderr


def test_paisa_demo_generates_and_materializes_everything_through_dagster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = (
        os.environ | local_settings_env(tmp_path) | {"DAGSTER_HOME": str(tmp_path / "dagster_home")}
    )
    out = run([str(BIN / "paisa"), "demo", "--reviews", "2000", "--stream-events", "300"], env)
    assert "published 300 review events" in out
    assert "streaming_job          ok" in out
    assert "gold_job               ok" in out
    assert "ml_job                 ok" in out
    page = tmp_path / "dashboard" / "index.html"
    assert f"Dashboard:      {page.as_uri()}" in out
    assert page.stat().st_size > 1_000_000  # plotly.js is embedded
    assert (tmp_path / "mlflow" / "mlflow.db").exists()
    assert "│ 2300    ┆" in out
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()
    lake = Lakehouse(root=env["PAISA_LAKE_ROOT"])
    assert lake.read(GOLD_KPIS).select("batch_reviews", "stream_reviews").row(0) == (2000, 300)
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    with DagsterInstance.get() as instance:
        gold = instance.get_latest_materialization_event(AssetKey(["gold", "reviews_enriched"]))
        assert gold is not None
        metadata = gold.asset_materialization.metadata
        assert metadata["dagster/row_count"].value == 2300
        assert "dagster/column_schema" in metadata
    # A second demo reuses the landing zone and the lake: nothing changes.
    versions = {t: lake.version(t) for t in (BRONZE_REVIEWS, SILVER_REVIEWS, GOLD_KPIS)}
    run([str(BIN / "paisa"), "demo"], env)
    assert {t: lake.version(t) for t in versions} == versions
