"""The benchmark entry point on a tiny sample, so that it cannot rot unnoticed.

CI does not run the full benchmark (minutes at a million reviews); this runs every section of
it (generation, the Dagster pipeline, PySpark, the raw-read floor, streaming with the daemon)
on 2,000 reviews and 60 events, and checks the JSON has every figure, positive. Most of its
time is the JVM's and the daemon's start-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "benchmarks" / "run.py"


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_benchmark_entry_point_smoke_run(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--scales",
            "2000",
            "--events",
            "60",
            "--bursts",
            "2",
            "--output",
            str(output),
            "--work",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads(output.read_text())
    assert "| **paisa end to end through Dagster** |" in completed.stdout

    (scale,) = results["scales"]
    assert scale["reviews"] == 2000
    pipeline = scale["pipeline"]["result"]
    for layer in ("bronze", "silver", "gold"):
        figures = pipeline["layers"][layer]
        assert _positive(figures["seconds"]), (layer, figures)
        assert _positive(figures["rows_in"]) and _positive(figures["rows_per_second"])
    assert pipeline["table_rows"]["gold.reviews_enriched"] == 2000
    # One planned and one materialization event per landing folder and asset (bronze, silver).
    folders = sum(run["partitions"] for run in pipeline["runs"])
    assert folders > scale["generate"]["result"]["review_folders"]
    bookkeeping = pipeline["dagster_bookkeeping"]
    assert bookkeeping["partition_events"] == 2 * 2 * folders, bookkeeping
    assert bookkeeping["events"] > bookkeeping["partition_events"]
    assert bookkeeping["partition_event_seconds"] >= 0  # one folder each: no span to time
    for name in ("generate", "pipeline", "spark", "floor"):
        stage = scale[name]
        assert _positive(stage["wall_seconds"]) and _positive(stage["peak_rss_mib"]), name
        assert _positive(stage["cpu_seconds"]), name
    spark = scale["spark"]["result"]
    assert spark["table_rows"]["silver.amazon_reviews"] == 2000
    assert all(_positive(spark["seconds"][layer]) for layer in ("bronze", "silver", "gold"))
    floor = scale["floor"]["result"]
    assert _positive(floor["floor_seconds"])
    assert all(_positive(floor["seconds"][engine]) for engine in ("duckdb", "polars"))
    medallion = floor["medallion"]
    assert all(_positive(medallion["seconds"][step]) for step in ("read", "bronze", "silver"))
    assert medallion["medallion_floor_seconds"] == pytest.approx(
        sum(medallion["seconds"].values()), abs=0.01
    )
    for ratio in (
        "spark_speedup",
        "floor_multiple",
        "medallion_floor_multiple",
        "paisa_seconds_per_million_reviews",
    ):
        assert _positive(scale[ratio]), ratio

    streaming = results["streaming"]["result"]
    assert streaming["events"] == 60
    for key in (
        "latency_p50_seconds",
        "latency_p95_seconds",
        "runs",
        "events_per_second_per_run_median",
    ):
        assert _positive(streaming[key]), key

    assert set(results["goals"]) >= {"spark_5x", "floor_3x", "memory_under_2gib"}
    assert results["machine"]["logical_cores"] >= 1
    assert results["table_markdown"].startswith("| figure |")
