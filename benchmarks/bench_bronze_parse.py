"""Bronze ingestion alone, with and without the parsing worker processes.

python benchmarks/bench_bronze_parse.py LANDING [--dataset amazon_reviews] [--workers 0 2]

LANDING is a landing root that `paisa generate` wrote. For each worker count, every folder of the
dataset is ingested into a fresh temporary lake through `ingest_partitions` (no Dagster run, no
silver), so the figure is bronze's own: listing, parsing, the Delta writes, the manifest and the
workers' start and stop. Printed per run: wall time, rows/s, CPU time and peak RSS of this
process and its workers, and the CPU that other processes used meanwhile (2 cores give 2 core-s
a second), which says how far to trust the figure on a shared machine. The rows written must be
the same for every worker count.

paisa and Dagster are imported inside the functions: a spawned worker re-imports the script
that started its parent, and should not pay for Dagster there.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_measure import MIB, TreeMemorySampler, busy_cpu_seconds


def own_cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (the workers, once stopped)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def ingest(landing_root: Path, dataset: str, workers: int) -> dict[str, float]:
    """One ingestion of every folder of `dataset` into a fresh lake, measured."""
    from paisa_assets.bronze_ingest import ingest_partitions
    from paisa_assets.resources.lakehouse import Lakehouse
    from paisa_assets.resources.landing_zone import METADATA_DATASET, LocalLandingZone
    from paisa_assets.tables import BRONZE_METADATA, BRONZE_REVIEWS
    from paisa_assets.transforms.parallel_parse import FileParser
    from paisa_assets.transforms.schemas import BRONZE_METADATA_COLUMNS, BRONZE_REVIEWS_COLUMNS

    table, columns = (
        (BRONZE_METADATA, BRONZE_METADATA_COLUMNS)
        if dataset == METADATA_DATASET
        else (BRONZE_REVIEWS, BRONZE_REVIEWS_COLUMNS)
    )
    landing = LocalLandingZone(root=str(landing_root))
    with tempfile.TemporaryDirectory() as lake_root:
        machine_before, own_before = busy_cpu_seconds(), own_cpu_seconds()
        with TreeMemorySampler(os.getpid()) as sampler:
            started = time.perf_counter()
            with FileParser(workers) as parser:  # closed, workers stopped, inside the timing
                outcome = ingest_partitions(
                    landing,
                    Lakehouse(root=lake_root),
                    dataset=dataset,
                    table=table,
                    columns=columns,
                    partitions=landing.list_partitions(dataset),
                    parser=parser,
                )
            seconds = time.perf_counter() - started
        machine = busy_cpu_seconds() - machine_before
        cpu = own_cpu_seconds() - own_before
    return {
        "seconds": seconds,
        "rows": outcome.rows_written,
        "quarantined": outcome.rows_quarantined,
        "in_workers": parser.files_parsed_in_workers,
        "cpu": cpu,
        "peak_mib": sampler.peak_bytes / MIB,
        "others_cpu": max(0.0, machine - cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("--dataset", default="amazon_reviews")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    files = [p for p in (args.landing / args.dataset).glob("*/*") if p.is_file()]
    size = sum(p.stat().st_size for p in files) / MIB
    print(f"{args.dataset}: {len(files):,} files, {size:.1f} MiB, {os.cpu_count()} cores")
    written = set()
    for workers in args.workers:
        run = ingest(args.landing, args.dataset, workers)
        written.add(run["rows"])
        print(
            f"workers {workers}: {run['seconds']:6.2f} s {run['rows'] / run['seconds']:>9,.0f} "
            f"rows/s | CPU {run['cpu']:5.1f} s, peak RSS {run['peak_mib']:5.0f} MiB | "
            f"{run['rows']:,} rows, {run['quarantined']:,} quarantined, "
            f"{run['in_workers']:,} files parsed in workers | "
            f"other processes {run['others_cpu']:4.1f} CPU s"
        )
    if len(written) > 1:
        raise SystemExit(f"rows written differ between worker counts: {sorted(written)}")


if __name__ == "__main__":
    main()
