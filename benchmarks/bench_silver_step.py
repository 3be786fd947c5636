"""The silver reviews step alone: its CPU per run, on one bronze lake, optionally against an
older checkout of the code.

python benchmarks/bench_silver_step.py LANDING [--runs 3] [--baseline-code DIR]
    [--output benchmarks/results/silver_step_1m.json]

LANDING is a landing root that `paisa generate` wrote. Its review folders are ingested once into
a temporary bronze lake (not measured); then each run copies that lake and runs
`silver_merge.refresh_partitions` over every folder plus the per-folder counts of
`silver_results` (what the asset does besides Dagster's events), in a fresh process. With
`--baseline-code DIR` (a directory holding an older `paisa_assets`, e.g. from `git archive
<commit> paisa_assets | tar -x -C DIR`), runs alternate between that code and this one, so both
see the same machine load. Printed per run: CPU time of the process during the step, wall time,
and the CPU that other processes used meanwhile. Every run must write the same silver rows and
quarantine rows (a digest of each table, ingestion time aside), else the benchmark fails.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_measure import busy_cpu_seconds, machine_info


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def table_digest(lake_root: str, table: str) -> tuple[int, str]:
    """Rows and a digest of a table (every column but the ingestion time), in a stable order."""
    import hashlib

    from paisa_assets.resources.lakehouse import Lakehouse

    frame = Lakehouse(root=lake_root).read(table)
    frame = frame.drop("_ingested_at", strict=False).sort(["_source_file", "_line"])
    return frame.height, hashlib.sha256(frame.write_ndjson().encode()).hexdigest()


def build_bronze(landing: Path, lake_root: str) -> list[str]:
    """Ingest every review folder into bronze; returns the folders."""
    from paisa_assets.bronze_ingest import ingest_partitions
    from paisa_assets.resources.lakehouse import Lakehouse
    from paisa_assets.resources.landing_zone import REVIEWS_DATASET, LocalLandingZone
    from paisa_assets.tables import BRONZE_REVIEWS
    from paisa_assets.transforms.schemas import BRONZE_REVIEWS_COLUMNS

    zone = LocalLandingZone(root=str(landing))
    partitions = zone.list_partitions(REVIEWS_DATASET)
    ingest_partitions(
        zone,
        Lakehouse(root=lake_root),
        dataset=REVIEWS_DATASET,
        table=BRONZE_REVIEWS,
        columns=BRONZE_REVIEWS_COLUMNS,
        partitions=partitions,
    )
    return partitions


def one_run(lake_root: str, partitions: list[str]) -> dict[str, object]:
    """The step on this lake, measured (runs in its own process)."""
    import duckdb

    from paisa_assets.resources.lakehouse import Lakehouse
    from paisa_assets.silver_merge import REVIEWS, SilverOutcome, refresh_partitions
    from paisa_assets.silver_results import folder_counts

    duckdb.sql("SELECT 1")  # DuckDB's first query pays its own start-up: not the step's
    lakehouse = Lakehouse(root=lake_root)
    machine_before, own_before = busy_cpu_seconds(), own_cpu_seconds()
    started = time.perf_counter()
    total = SilverOutcome()
    for _, outcome in refresh_partitions(lakehouse, REVIEWS, partitions):
        total.add(outcome)
    folder_counts(lakehouse, REVIEWS, partitions)
    seconds = time.perf_counter() - started
    cpu = own_cpu_seconds() - own_before
    others = max(0.0, busy_cpu_seconds() - machine_before - cpu)
    return {
        "seconds": round(seconds, 3),
        "cpu": round(cpu, 3),
        "others_cpu": round(others, 2),
        "inserted": total.inserted,
        "quarantined": total.quarantined,
        "silver": table_digest(lake_root, REVIEWS.silver_table),
        "quarantine": table_digest(lake_root, REVIEWS.quarantine_table),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-code", type=Path)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # LAKE PARTITIONS_JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one[0], json.loads(args.one[1]))))
        return
    code = {"this": str(Path(__file__).resolve().parent.parent)}
    if args.baseline_code:
        code = {"baseline": str(args.baseline_code.resolve()), **code}
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as scratch:
        bronze = os.path.join(scratch, "bronze")
        partitions = build_bronze(args.landing, bronze)
        for index in range(args.runs):
            for name, path in code.items():
                lake = os.path.join(scratch, f"run{index}_{name}")
                shutil.copytree(bronze, lake)
                env = {**os.environ, "PYTHONPATH": path}
                out = subprocess.run(
                    [sys.executable, __file__, str(args.landing), "--one", lake,
                     json.dumps(partitions)],
                    env=env, check=True, capture_output=True, text=True,
                )  # fmt: skip
                run = {"code": name, **json.loads(out.stdout.strip().splitlines()[-1])}
                shutil.rmtree(lake)
                print(
                    f"{name:8s} run {index + 1}: {run['cpu']:.2f} CPU-s, {run['seconds']:.2f} s, "
                    f"others {run['others_cpu']:.1f} core-s"
                )
                runs.append(run)
    outputs = {json.dumps([run["silver"], run["quarantine"]]) for run in runs}
    if len(outputs) != 1:
        raise SystemExit(f"runs wrote different silver or quarantine rows: {outputs}")
    summary = {
        name: sorted(run["cpu"] for run in runs if run["code"] == name)  # type: ignore[misc]
        for name in code
    }
    print("CPU-s per code:", summary)
    if args.output:
        result = {
            "machine": machine_info(),
            "landing": str(args.landing),
            "cpu_seconds": summary,
            "runs": runs,
        }
        args.output.write_text(json.dumps(result, indent=1) + "\n")
        print(f"written to {args.output}")


if __name__ == "__main__":
    main()
