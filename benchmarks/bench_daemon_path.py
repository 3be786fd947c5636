"""The daemon path, as users get it: a landing folder dropped while `dagster-daemon` runs with
the default sensor intervals, measured until its rows are in silver and in gold.

For each drop it reports the latency from the drop to silver and to gold, the sensor run's wall
time (run start to end, in the run worker), the summed time of its steps, and how long the run
waited between its creation and its start. One warm-up drop (the metadata folder) goes first,
so the daemon's own start-up is not counted.

    python benchmarks/bench_daemon_path.py [REVIEWS_PER_FOLDER] [FOLDERS]
        (default 56,000 reviews, the real source's density, and 3 folders)

Writes `benchmarks/results/daemon_path.json` (with the machine's description).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "daemon_path.json"
TIMEOUT_SECONDS = 600

sys.path.insert(0, str(REPO / "benchmarks"))

from instance_env import paisa_env, running_daemon  # noqa: E402


@contextmanager
def daemon_on(root: Path):
    """`dagster-daemon` on a fresh instance under `root`, every paisa path under it, default
    sensor intervals (nothing set but paths); yields the instance."""
    from dagster import DagsterInstance

    env = paisa_env(root)
    with running_daemon(env), DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        yield instance


def wait_until(condition, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > TIMEOUT_SECONDS:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return time.monotonic()


def measure(reviews_per_folder: int, folders: int) -> dict[str, Any]:
    from dagster import DagsterRunStatus, RunsFilter

    from paisa_assets.generator import generate_landing_zone
    from paisa_assets.resources.lakehouse import Lakehouse

    drops: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        staged = root / "staged"
        report = generate_landing_zone(
            staged,
            reviews=reviews_per_folder * folders,
            review_partitions=folders,
            metadata_partitions=1,
            seed=11,
            progress=False,
        )
        landing = root / "landing"
        (landing / "amazon_reviews").mkdir(parents=True)
        lake = Lakehouse(root=str(root / "lake"))

        def rows(table: str) -> int:
            return lake.count(table) if lake.exists(table) else 0

        def gold_reviews() -> int:
            if not lake.exists("gold.kpis"):
                return 0
            return int(lake.read("gold.kpis")["reviews"][0])

        with daemon_on(root) as instance:
            shutil.move(str(staged / "amazon_metadata"), str(landing / "amazon_metadata"))
            wait_until(lambda: rows("silver.amazon_metadata") > 0, "the warm-up folder")
            expected_silver = 0
            for index in range(folders):
                name = f"partition_{index}"
                source = staged / "amazon_reviews" / name
                bronze_before = rows("bronze.amazon_reviews")
                silver_before = rows("silver.amazon_reviews")
                dropped_at = time.monotonic()
                dropped_wall = datetime.now(UTC).timestamp()
                shutil.move(str(source), str(landing / "amazon_reviews" / name))
                # The exact rows this folder adds to silver are known once bronze holds it.
                wait_until(
                    lambda before=bronze_before: rows("bronze.amazon_reviews") > before,
                    "bronze",
                )
                in_silver = wait_until(
                    lambda before=silver_before: rows("silver.amazon_reviews") > before,
                    "silver",
                )
                expected_silver = rows("silver.amazon_reviews")
                in_gold = wait_until(
                    lambda target=expected_silver: gold_reviews() >= target, "gold"
                )
                (run,) = [
                    r
                    for r in instance.get_run_records(
                        RunsFilter(
                            job_name="reviews_ingest_job",
                            statuses=[DagsterRunStatus.SUCCESS],
                            created_after=datetime.fromtimestamp(dropped_wall, UTC),
                        )
                    )
                ]
                steps = instance.get_run_step_stats(run.dagster_run.run_id)
                step_seconds = sum(
                    s.end_time - s.start_time for s in steps if s.start_time and s.end_time
                )
                drops.append(
                    {
                        "folder": name,
                        "silver_rows_added": expected_silver - silver_before,
                        "drop_to_silver_seconds": round(in_silver - dropped_at, 2),
                        "drop_to_gold_seconds": round(in_gold - dropped_at, 2),
                        "run_wall_seconds": round(run.end_time - run.start_time, 2),
                        "run_steps_seconds": round(step_seconds, 2),
                        "run_queued_seconds": round(
                            run.start_time - run.create_timestamp.timestamp(), 2
                        ),
                    }
                )
                print(json.dumps(drops[-1]), flush=True)
    ratios = [d["run_wall_seconds"] / d["run_steps_seconds"] for d in drops]
    return {
        "reviews_per_folder": reviews_per_folder,
        "landing_rows": report.reviews.parsed_rows,
        "intervals": "defaults (landing sensor 10 s, gold sensor 15 s, run queue 1 s)",
        "drops": drops,
        "drop_to_silver_seconds_median": statistics.median(
            d["drop_to_silver_seconds"] for d in drops
        ),
        "drop_to_gold_seconds_median": statistics.median(d["drop_to_gold_seconds"] for d in drops),
        "run_wall_over_steps_median": round(statistics.median(ratios), 2),
    }


def main() -> None:
    from bench_measure import machine_info

    reviews = int(sys.argv[1]) if len(sys.argv) > 1 else 56_000
    folders = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    figures = measure(reviews, folders)
    figures["machine"] = machine_info()
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"drop -> silver, median        {figures['drop_to_silver_seconds_median']:>8.1f} s")
    print(f"drop -> gold, median          {figures['drop_to_gold_seconds_median']:>8.1f} s")
    print(f"run wall / summed steps       {figures['run_wall_over_steps_median']:>8.2f}")
    print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
