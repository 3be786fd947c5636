"""The benchmark entry point on a tiny sample, so that it cannot rot unnoticed.

CI does not run the full benchmark (minutes at a million reviews). The smoke run takes every
section that fits in under a minute (generation, the Dagster pipeline, the raw-read and
medallion floors) on 2,000 reviews and checks the JSON has every figure, positive. The output
comparison with PySpark is tested on its own (it must catch a difference), and the slow test runs
PySpark and paisa's per-run processes on the same sample and requires the same outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from paisa_assets import registry

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "benchmarks" / "run.py"


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0


def _run(
    tmp_path: Path, *arguments: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess, dict]:
    output = tmp_path / "results.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--scales",
            "2000",
            "--output",
            str(output),
            "--work",
            str(tmp_path),
            *arguments,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed, json.loads(output.read_text())


def test_benchmark_entry_point_smoke_run(tmp_path: Path) -> None:
    completed, results = _run(tmp_path, "--events", "0", "--skip-spark", "--in-process")
    assert "| **paisa end to end through Dagster** (runs' start to end) |" in completed.stdout

    (scale,) = results["scales"]
    assert scale["reviews"] == 2000
    pipeline = scale["pipeline"]["result"]
    for layer in ("bronze", "silver", "gold"):
        figures = pipeline["layers"][layer]
        assert _positive(figures["seconds"]), (layer, figures)
        assert _positive(figures["rows_in"]) and _positive(figures["rows_per_second"])
    assert pipeline["table_rows"]["gold.reviews_enriched"] == 2000
    assert _positive(pipeline["lake_mib"])
    # One planned and one materialization event per landing folder and table its ingestion
    # writes (bronze, its quarantine and manifest, silver and its quarantine: the registry's).
    folders = sum(run["partitions"] for run in pipeline["runs"])
    assert folders > scale["generate"]["result"]["review_folders"]
    (tables_per_folder,) = {
        sum(registry.table(t).partitioned_by == name for t in registry.DATASETS[name].tables)
        for name in registry.LANDING_DATASETS
    }
    bookkeeping = pipeline["dagster_bookkeeping"]
    assert bookkeeping["partition_events"] == 2 * tables_per_folder * folders, bookkeeping
    assert bookkeeping["events"] > bookkeeping["partition_events"]
    # --in-process reaches the stage's process; every step has its CPU time from the sampler.
    assert pipeline["path"] == "execute_in_process in the stage's process"
    step_cpu = scale["paisa_step_cpu_seconds"]
    assert set(step_cpu) >= {"bronze", "silver", "gold", "checks", "all_steps"}, step_cpu
    assert (
        _positive(step_cpu["all_steps"])
        and step_cpu["all_steps"] <= scale["pipeline"]["cpu_seconds"]
    ), step_cpu
    assert all(step["cpu_seconds"] >= 0 for run in pipeline["runs"] for step in run["steps"]), (
        pipeline["runs"]
    )
    for name in ("generate", "pipeline", "floor"):
        stage = scale[name]
        assert _positive(stage["wall_seconds"]) and _positive(stage["peak_rss_mib"]), name
        assert _positive(stage["cpu_seconds"]), name
        assert len(stage["load_average_before"]) == 3, name
    floor = scale["floor"]["result"]
    assert all(_positive(floor["seconds"][engine]) for engine in ("duckdb", "polars"))
    medallion = floor["medallion"]
    assert medallion["medallion_floor_seconds"] == pytest.approx(
        sum(medallion["seconds"].values()), abs=0.01
    )
    # Its CPU time, read from the stage's CPU timeline between its start and end.
    assert medallion["end"] > medallion["start"] and medallion["cpu_seconds"] >= 0, medallion
    assert "medallion_floor_cpu_multiple" in scale
    for ratio in (
        "floor_multiple",
        "medallion_floor_multiple",
        "paisa_seconds_per_million_reviews",
    ):
        assert _positive(scale[ratio]), ratio
    assert "spark" not in scale and "compare" not in scale
    assert set(results["goals"]) >= {"medallion_floor_1_5x", "memory_under_2gib"}
    assert results["machine"]["logical_cores"] >= 1
    assert isinstance(results["machine"]["bytecode_cached"], bool)
    assert results["table_markdown"].startswith("| figure |")


@pytest.fixture
def compare_module():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_compare

        yield bench_compare
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_output_comparison_finds_every_kind_of_difference(compare_module) -> None:
    import duckdb

    spec = compare_module.Compared("t", ("id",), ("name", "count", "price"), doubles=("price",))
    paisa = pa.table(
        {
            "id": ["a", "b", "c"],
            "name": ["x", None, "z"],
            "count": pa.array([1, 2, 3], pa.int32()),
            "price": [1.0, 2.0, 3.0],
        }
    )

    def compared(spark: pa.Table) -> dict:
        with duckdb.connect() as con:
            con.register("paisa", paisa)
            con.register("spark", spark)
            return compare_module.compare_table(con, spec)

    # Another row order, wider integers, doubles apart by the last bits only: the same.
    same = (
        paisa.take([2, 0, 1])
        .set_column(2, "count", pa.array([3, 1, 2], pa.int64()))
        .set_column(3, "price", pa.array([3.0 + 1e-13, 1.0, 2.0]))
    )
    assert compared(same)["same"]

    one_value = paisa.set_column(1, "name", pa.array(["x", "", "z"]))  # null became ""
    assert compared(one_value)["columns_differing"] == ["name"]
    one_price = paisa.set_column(3, "price", pa.array([1.0, 2.01, 3.0]))
    assert compared(one_price)["columns_differing"] == ["price"]
    other_key = paisa.set_column(0, "id", pa.array(["a", "b", "d"]))
    figures = compared(other_key)
    assert not figures["same"]
    assert figures["keys_only_in"]["paisa"] == {"keys": 1, "examples": ["c"]}
    assert figures["keys_only_in"]["spark"] == {"keys": 1, "examples": ["d"]}
    fewer = compared(paisa.slice(0, 2))
    assert fewer["rows"] == {"paisa": 3, "spark": 2} and not fewer["same"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_paisa_through_dagster_cli_and_pyspark_give_the_same_outputs(tmp_path: Path) -> None:
    # The outputs are compared, not the speed: the JVM compiles with its quick JIT only (C1),
    # which halves its CPU time on a 2,000-review sample. Benchmarks run Spark's defaults.
    quick_jit = "-XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -XX:+UseSerialGC"
    _, results = _run(tmp_path, "--events", "0", env=os.environ | {"JAVA_TOOL_OPTIONS": quick_jit})
    (scale,) = results["scales"]
    assert scale["pipeline"]["result"]["path"].startswith("dagster job execute")
    assert [run["job"] for run in scale["pipeline"]["result"]["runs"]] == [
        "metadata_ingest_job",
        "reviews_ingest_job",
        "benchmark_gold_job",
    ]
    spark = scale["spark"]["result"]
    assert spark["config"]["driver_memory"] == "1500m"
    assert spark["config"]["java_tool_options"] == quick_jit
    assert len(spark["runs"]) == 2 and all(_positive(r["peak_rss_mib"]) for r in spark["runs"])
    assert spark["table_rows"]["silver.amazon_reviews"] == 2000
    compared = scale["compare"]["result"]
    assert compared["same"], compared["differing_tables"]
    assert set(compared["tables"]) == {
        "silver.amazon_reviews",
        "silver.amazon_metadata",
        "gold.reviews_enriched",
        "gold.product_summary",
        "gold.category_monthly",
        "gold.kpis",
    }
    assert compared["tables"]["gold.reviews_enriched"]["rows"] == {"paisa": 2000, "spark": 2000}
    assert results["goals"]["same_outputs"]["holds"]
    assert _positive(scale["spark_speedup_warm"])
