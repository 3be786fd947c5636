"""Does the memory of the product-keyed steps grow with the number of products?

    python benchmarks/bench_metadata_memory.py --products 100000,300000,1000000

The datathon's catalogue holds 15M products; `benchmarks/run.py` grows products with reviews
(one per ten), so at 10M reviews its metadata steps see 1M products. This benchmark isolates
the three steps whose work is keyed by product, at several catalogue sizes, without reviews:

- `bronze`: a metadata-only landing zone (the generator's, at the real density of 10,000
  products per folder) ingested into `bronze.amazon_metadata` (`ingest_partitions`, as the
  asset calls it);
- `silver`: that bronze table refreshed into `silver.amazon_metadata` (`refresh_partitions`);
- `summary`: `gold.product_summary` rebuilt from a `gold.reviews_enriched` of ten reviews per
  product, holding only the columns the summary reads (written first, outside the measure).

Each step runs in its own process, measured from outside like `run.py`'s stages (peak RSS of
the process tree, sampled every 50 ms); the step also reports its RSS once its imports are done,
so the step's own growth is the peak less that. Writes `results/metadata_memory.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_measure import machine_info, run_stage, write_stage_result  # noqa: E402

PRODUCTS_PER_FOLDER = 10_000  # the real density (run.py: 100,000 reviews, 10,000 products)
REVIEWS_PER_PRODUCT = 10
STAGES = ("generate", "bronze", "silver", "enriched", "summary")
MEASURED = ("bronze", "silver", "summary")
OUTPUT = HERE / "results" / "metadata_memory.json"


def _rss_mib() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def _lakehouse(work: Path) -> Any:
    from paisa_assets.resources.lakehouse import Lakehouse

    return Lakehouse(root=str(work / "lake"))


def _partitions(landing: Path) -> list[str]:
    from paisa_assets.resources.landing_zone import METADATA_DATASET, LocalLandingZone

    return LocalLandingZone(root=str(landing)).list_partitions(METADATA_DATASET)


def stage_generate(products: int, landing: Path, work: Path) -> dict[str, Any]:
    """A landing zone of `products` products' metadata (and a token 1,000 reviews); one
    generated before in the same place (`--work` and `--keep`) is used as it is."""
    from paisa_assets.generator import GenerationReport, generate_landing_zone

    report_file = landing / "_generation_report.json"
    if report_file.exists():
        saved = GenerationReport.from_json(report_file.read_text())
        return {
            "reused": True,
            "metadata_lines": saved.metadata.lines,
            "metadata_folders": len(saved.metadata.partitions),
        }
    started = time.perf_counter()
    report = generate_landing_zone(
        landing,
        reviews=1_000,
        products=products,
        reviewers=1_000,
        review_partitions=1,
        metadata_partitions=max(1, products // PRODUCTS_PER_FOLDER),
        seed=11,
        progress=False,
    )
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "metadata_lines": report.metadata.lines,
        "metadata_folders": len(report.metadata.partitions),
        "compressed_mib": round(
            sum(p.stat().st_size for p in (landing / "amazon_metadata").rglob("*.gz")) / 2**20, 1
        ),
    }


def stage_bronze(products: int, landing: Path, work: Path) -> dict[str, Any]:
    from paisa_assets.bronze_ingest import ingest_partitions
    from paisa_assets.resources.landing_zone import METADATA_DATASET, LocalLandingZone
    from paisa_assets.tables import BRONZE_METADATA
    from paisa_assets.transforms.schemas import BRONZE_METADATA_COLUMNS

    lakehouse = _lakehouse(work)
    partitions = _partitions(landing)
    imported = _rss_mib()
    started = time.perf_counter()
    outcome = ingest_partitions(
        LocalLandingZone(root=str(landing)),
        lakehouse,
        dataset=METADATA_DATASET,
        table=BRONZE_METADATA,
        columns=BRONZE_METADATA_COLUMNS,
        partitions=partitions,
    )
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "import_rss_mib": imported,
        "rows": outcome.rows_written,
        "quarantined": outcome.rows_quarantined,
    }


def stage_silver(products: int, landing: Path, work: Path) -> dict[str, Any]:
    from paisa_assets.silver_merge import METADATA, SilverOutcome, refresh_partitions
    from paisa_assets.tables import SILVER_METADATA

    lakehouse = _lakehouse(work)
    partitions = _partitions(landing)
    imported = _rss_mib()
    started = time.perf_counter()
    total = SilverOutcome()
    chunks = 0
    for _, outcome in refresh_partitions(lakehouse, METADATA, partitions):
        total.add(outcome)
        chunks += 1
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "import_rss_mib": imported,
        "chunks": chunks,
        "rows": lakehouse.count(SILVER_METADATA),
        "inserted": total.inserted,
        "updated": total.updated,
        "files": len(lakehouse.delta_table(SILVER_METADATA).file_uris()),
    }


def stage_enriched(products: int, landing: Path, work: Path) -> dict[str, Any]:
    """gold.reviews_enriched's columns that product_summary reads, ten reviews per product."""
    import duckdb

    from paisa_assets.tables import GOLD_REVIEWS_ENRICHED

    rows = products * REVIEWS_PER_PRODUCT
    query = f"""
        SELECT
            'B0' || lpad(CAST(i % {products} AS VARCHAR), 8, '0') AS asin,
            'Sturdy Widget number ' || CAST(i % {products} AS VARCHAR) || ' by Acme' AS title,
            'Acme' || CAST(i % 997 AS VARCHAR) AS brand,
            'Category ' || CAST(i % 31 AS VARCHAR) AS main_cat,
            CAST((i % 9000) / 100.0 + 1 AS DOUBLE) AS price,
            i % 7 = 0 AS price_imputed,
            CAST(1 + i % 5 AS DOUBLE) AS rating,
            CASE WHEN i % 11 = 0 THEN NULL ELSE i % 3 <> 0 END AS verified,
            CASE WHEN i % 50 = 0 THEN 'stream' ELSE 'batch' END AS source,
            DATE '2000-01-01' + CAST(i % 6000 AS INTEGER) AS review_date
        FROM range({rows}) AS r(i)
    """
    lakehouse = _lakehouse(work)
    with duckdb.connect(config={"memory_limit": "512MB", "threads": 2}) as con:
        lakehouse.replace(GOLD_REVIEWS_ENRICHED, con.sql(query).to_arrow_reader(100_000))
    return {"rows": lakehouse.count(GOLD_REVIEWS_ENRICHED)}


def stage_summary(products: int, landing: Path, work: Path) -> dict[str, Any]:
    from paisa_assets.gold_build import ENRICHED_INPUT
    from paisa_assets.resources.warehouse import Warehouse
    from paisa_assets.tables import GOLD_PRODUCT_SUMMARY
    from paisa_assets.transforms.gold import product_summary

    lakehouse = _lakehouse(work)
    warehouse = Warehouse(path=str(work / "warehouse.duckdb"))
    imported = _rss_mib()
    started = time.perf_counter()
    with warehouse.session(lakehouse, ENRICHED_INPUT) as con:
        lakehouse.replace(GOLD_PRODUCT_SUMMARY, product_summary(con))
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "import_rss_mib": imported,
        "rows": lakehouse.count(GOLD_PRODUCT_SUMMARY),
    }


def run_child(args: argparse.Namespace) -> None:
    step = globals()[f"stage_{args.stage}"]
    result = step(args.stage_products, Path(args.landing), Path(args.work_dir))
    write_stage_result(Path(args.result), result)


def measure(products: int, root: Path, stages: list[str]) -> dict[str, Any]:
    work = root / f"products_{products}"
    landing = work / "landing"
    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "lake", ignore_errors=True)  # a kept folder's lake, from a run before
    figures: dict[str, Any] = {"products": products}
    for name in stages:
        result = work / f"{name}.result.json"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--stage",
            name,
            "--stage-products",
            str(products),
            "--landing",
            str(landing),
            "--work-dir",
            str(work),
            "--result",
            str(result),
        ]
        run = run_stage(name, command, result, work / f"{name}.log", 3_600)
        step = {
            "wall_seconds": run.wall_seconds,
            "peak_rss_mib": run.peak_rss_mib,
            "cpu_seconds": run.cpu_seconds,
            "load_average_before": run.load_average_before,
            **run.result,
        }
        if "import_rss_mib" in run.result:
            step["growth_mib"] = round(run.peak_rss_mib - run.result["import_rss_mib"], 1)
        figures[name] = step
        print(f"  {products:>10,} products  {name:<9} {json.dumps(step)}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", default="100000,300000,1000000")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset")
    parser.add_argument("--work", help="scratch folder (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the landing zones and lakes")
    parser.add_argument("--output", default=str(OUTPUT))
    parser.add_argument("--label", default="", help="what this run measures (the code's state)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--stage-products", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--landing", help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        run_child(args)
        return
    stages = args.stages.split(",")
    results: dict[str, Any] = {
        "benchmark": "metadata_memory",
        "label": args.label,
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "stages": stages,
    }
    root = Path(args.work or tempfile.mkdtemp(prefix="paisa_metadata_memory_"))
    try:
        results["scales"] = [measure(int(n), root, stages) for n in args.products.split(",")]
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {output}")


if __name__ == "__main__":
    main()
