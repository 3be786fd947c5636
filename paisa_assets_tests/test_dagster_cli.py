"""The real `dagster` and `paisa` command lines against a temporary DAGSTER_HOME."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.tables import BRONZE_REVIEWS, GOLD_KPIS, SILVER_REVIEWS
from paisa_assets_tests.conftest import local_settings_env, make_workspace, product, review
from paisa_assets_tests.support.daemon import BIN, REPO, dagster_env

pytestmark = pytest.mark.slow

INGEST = "bronze/amazon_reviews,silver/amazon_reviews"


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    workspace = make_workspace(tmp_path)
    for folder in range(3):
        workspace.write_landing_file(
            f"amazon_reviews/partition_{folder}/part-00000.json.gz",
            [review(folder * 100 + n) for n in range(folder + 2)],
        )
    workspace.write_landing_file(
        "amazon_metadata/partition_0/part-00000.json.gz", [product(n) for n in range(7)]
    )
    return dagster_env(tmp_path)


def run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def materialize(env: dict[str, str], select: str, *partition_args: str) -> None:
    run(
        [
            str(BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "paisa_assets.definitions",
            "--select",
            select,
            *partition_args,
        ],
        env,
    )


def test_one_partition_then_a_backfill_then_gold_and_sql(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lakehouse(root=cli_env["PAISA_LAKE_ROOT"])
    out = run([str(BIN / "paisa"), "sync-partitions"], cli_env)
    assert "amazon_reviews: 3 new partition(s)" in out

    materialize(cli_env, INGEST, "--partition", "partition_1")
    assert lake.read(BRONZE_REVIEWS)["_partition"].unique().to_list() == ["partition_1"]
    assert lake.count(SILVER_REVIEWS) == 3

    materialize(cli_env, INGEST, "--partition-range", "partition_0...partition_2")
    assert lake.count(BRONZE_REVIEWS) == 2 + 3 + 4
    assert lake.count(SILVER_REVIEWS) == 9

    materialize(
        cli_env, "bronze/amazon_metadata,silver/amazon_metadata", "--partition", "partition_0"
    )
    materialize(cli_env, "group:gold or group:serving")
    assert lake.read(GOLD_KPIS)["reviews"].to_list() == [9]

    monkeypatch.setenv("DAGSTER_HOME", cli_env["DAGSTER_HOME"])
    with DagsterInstance.get() as instance:
        materialized = instance.get_materialized_partitions(AssetKey(["silver", "amazon_reviews"]))
    assert materialized == {"partition_0", "partition_1", "partition_2"}

    out = run([str(BIN / "paisa"), "sql", "select reviews, products from gold.kpis"], cli_env)
    assert "│ 9       ┆ 7        │" in out


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
