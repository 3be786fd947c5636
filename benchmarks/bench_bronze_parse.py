"""Bronze ingestion alone: the per-line path (orjson, on two workers as before) against the
native path (`bronze_native`, in this process), on the same input.

python benchmarks/bench_bronze_parse.py LANDING [--dataset amazon_reviews] [--runs old:2 native:0]
    [--output benchmarks/results/bronze_parse_300k.json]

LANDING is a landing root that `paisa generate` wrote. Each run (`path:workers`) ingests every
folder of the dataset into a fresh temporary lake through `ingest_partitions` (no Dagster run, no
silver), so the figure is bronze's own: listing, parsing, the Delta writes, the manifest and the
workers' start and stop. Printed per run: wall time, rows/s, CPU time and peak RSS of this
process and its workers, and the CPU that other processes used meanwhile (2 cores give 2 core-s
a second), which says how far to trust the figure on a shared machine. Every run must write the
same bronze rows and quarantine rows (compared by a digest of both tables), else it fails.

paisa and Dagster are imported inside the functions: a spawned worker re-imports the script
that started its parent, and should not pay for Dagster there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from functools import partial

from bench_measure import MIB, TreeMemorySampler, busy_cpu_seconds, machine_info


def own_cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (the workers, once stopped)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def table_digest(lake_root: str, table: str, order: list[str]) -> str:
    """A digest of a table's rows (every column but the ingestion time), in a stable order."""
    import hashlib

    from paisa_assets.resources.lakehouse import Lakehouse

    frame = Lakehouse(root=lake_root).read(table).drop("_ingested_at").sort(order)
    return hashlib.sha256(frame.write_csv().encode()).hexdigest()


def ingest(landing_root: Path, dataset: str, path: str, workers: int) -> dict[str, object]:
    """One ingestion of every folder of `dataset` into a fresh lake, measured."""
    from paisa_assets.bronze_ingest import SIDE_TABLES, ingest_partitions
    from paisa_assets.resources.lakehouse import Lakehouse
    from paisa_assets.resources.landing_zone import METADATA_DATASET, LocalLandingZone
    from paisa_assets.tables import BRONZE_METADATA, BRONZE_REVIEWS
    from paisa_assets.transforms import bronze_parse, parallel_parse
    from paisa_assets.transforms.parallel_parse import FileParser
    from paisa_assets.transforms.schemas import BRONZE_METADATA_COLUMNS, BRONZE_REVIEWS_COLUMNS

    table, columns = (
        (BRONZE_METADATA, BRONZE_METADATA_COLUMNS)
        if dataset == METADATA_DATASET
        else (BRONZE_REVIEWS, BRONZE_REVIEWS_COLUMNS)
    )
    landing = LocalLandingZone(root=str(landing_root))
    with tempfile.TemporaryDirectory() as lake_root:
        native = path == "native"
        original = bronze_parse.parse_json_lines
        chosen = partial(original, native=native)
        # the per-line path in this process and in the workers (which import the module afresh:
        # `parse_in_worker` passes the choice along)
        parallel_parse.parse_json_lines = chosen  # type: ignore[assignment]
        machine_before, own_before = busy_cpu_seconds(), own_cpu_seconds()
        with TreeMemorySampler(os.getpid()) as sampler:
            started = time.perf_counter()
            in_worker = partial(parse_in_worker, native=native)
            # closed, workers stopped, inside the timing
            with FileParser(workers, parse_in_worker=in_worker) as parser:
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
        parallel_parse.parse_json_lines = original  # type: ignore[assignment]
        quarantine_table = SIDE_TABLES[dataset][0]
        digests = {
            "bronze": table_digest(lake_root, table, ["_source_file", "_line"]),
            "quarantine": table_digest(lake_root, quarantine_table, ["_source_file", "_line"]),
        }
    return {
        "path": path,
        "workers": workers,
        "seconds": seconds,
        "rows": outcome.rows_written,
        "quarantined": outcome.rows_quarantined,
        "in_workers": parser.files_parsed_in_workers,
        "cpu": cpu,
        "peak_mib": sampler.peak_bytes / MIB,
        "others_cpu": max(0.0, machine - cpu),
        "digests": digests,
    }


def parse_in_worker(
    data: bytes, path: str, columns: tuple[str, ...], max_rows: int, max_bytes: int, *, native: bool
) -> list | None:
    """`parallel_parse.parse_file_bytes` on the chosen path (runs in a worker)."""
    from paisa_assets.transforms import bronze_parse, parallel_parse

    parallel_parse.parse_json_lines = partial(bronze_parse.parse_json_lines, native=native)
    return parallel_parse.parse_file_bytes(data, path, columns, max_rows, max_bytes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("--dataset", default="amazon_reviews")
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["old:2", "native:0"],
        help="path:workers, path one of old (per-line orjson) and native",
    )
    parser.add_argument("--output", type=Path, help="results JSON to write")
    args = parser.parse_args()
    files = [p for p in (args.landing / args.dataset).glob("*/*") if p.is_file()]
    size = sum(p.stat().st_size for p in files) / MIB
    print(f"{args.dataset}: {len(files):,} files, {size:.1f} MiB, {os.cpu_count()} cores")
    runs = []
    for spec in args.runs:
        path, workers = spec.split(":")
        run = ingest(args.landing, args.dataset, path, int(workers))
        runs.append(run)
        print(
            f"{spec:>9}: {run['seconds']:6.2f} s {run['rows'] / run['seconds']:>9,.0f} "
            f"rows/s | CPU {run['cpu']:5.1f} s, peak RSS {run['peak_mib']:5.0f} MiB | "
            f"{run['rows']:,} rows, {run['quarantined']:,} quarantined, "
            f"{run['in_workers']:,} files parsed in workers | "
            f"other processes {run['others_cpu']:4.1f} CPU s"
        )
    if args.output:
        report = {
            "benchmark": "bench_bronze_parse",
            "dataset": args.dataset,
            "files": len(files),
            "compressed_mib": size,
            "machine": machine_info(),
            "runs": runs,
        }
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.output}")
    if len({json.dumps(run["digests"]) for run in runs}) > 1:
        raise SystemExit("the runs wrote different bronze or quarantine rows")


if __name__ == "__main__":
    main()
