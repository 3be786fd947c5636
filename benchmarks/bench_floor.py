"""The raw-read floor: the least any engine spends to decompress and parse the landing files.

Nothing is typed, validated, deduplicated or written: each engine only turns the same gzip
JSON-lines files into columns in memory (streamed and dropped batch by batch where the engine
allows it), so the pipeline's time divided by the floor says how much the lakehouse costs on
top of merely reading its input. Three figures:

- DuckDB `read_json` (newline-delimited, types detected, bad lines ignored), 2 threads.
- Polars: `scan_lines` (gzip and line splitting in Rust), the lines that look like JSON objects
  decoded with `str.json_decode` into the schema of a sample; Polars' JSON reader has no way
  to skip a malformed line, hence the pre-filter. If a later row contradicts the sample's
  schema, the whole text is re-read with full inference (and the figure says so).
- zlib alone: decompression in Python with no parsing, the floor under the floor.

A second floor, `measure_medallion_floor`, is what any lakehouse that keeps bronze, silver and
gold must spend at the least: the Polars read above, then each layer written as a Delta table
(the same Parquet settings as paisa's) and read back for the next, with no transformation at
all. It says how much of the pipeline's time is persisting three layers rather than its own work.
"""

from __future__ import annotations

import io
import shutil
import time
import zlib
from pathlib import Path
from typing import Any

DATASETS = ("amazon_reviews", "amazon_metadata")
SAMPLE_LINES = 20_000


def landing_files(landing: Path, dataset: str) -> list[str]:
    return sorted(str(p) for p in (landing / dataset).glob("*/*.json.gz"))


def duckdb_read(files: list[str]) -> int:
    import duckdb

    with duckdb.connect(config={"threads": 2}) as con:
        relation = con.read_json(files, format="newline_delimited", ignore_errors=True)
        return sum(batch.num_rows for batch in relation.to_arrow_reader(100_000))


def polars_read(files: list[str]) -> tuple[int, str]:
    """Rows decoded and the path taken ("sample schema" or "full inference")."""
    frame, path = polars_decode(files)
    return frame.height, path


def polars_decode(files: list[str]) -> tuple[Any, str]:
    """The files' JSON objects as a Polars frame, and the path taken (see `polars_read`)."""
    import polars as pl

    looks_like_object = pl.col("line").str.starts_with("{") & pl.col("line").str.ends_with("}")
    lines = pl.scan_lines(files).filter(looks_like_object).collect()
    sample = "\n".join(lines.get_column("line").head(SAMPLE_LINES).to_list()).encode()
    schema = pl.read_ndjson(io.BytesIO(sample), infer_schema_length=None).schema
    try:
        decoded = lines.select(pl.col("line").str.json_decode(pl.Struct(schema))).unnest("line")
        return decoded, "sample schema"
    except pl.exceptions.PolarsError:
        text = lines.select(pl.col("line").str.join("\n")).item().encode()
        return pl.read_ndjson(io.BytesIO(text), infer_schema_length=None), "full inference"


def zlib_read(files: list[str]) -> int:
    decompressed = 0
    for path in files:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                decompressed += len(decompressor.decompress(chunk))
    return decompressed


def _timed(function: Any, *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - started, value


def measure_floor(landing: Path) -> dict[str, Any]:
    """Seconds per engine over both datasets, and the floor (the fastest engine)."""
    engines: dict[str, dict[str, Any]] = {"duckdb": {}, "polars": {}, "zlib_only": {}}
    for dataset in DATASETS:
        files = landing_files(landing, dataset)
        seconds, rows = _timed(duckdb_read, files)
        engines["duckdb"][dataset] = {"seconds": round(seconds, 3), "rows": rows}
        seconds, (rows, path) = _timed(polars_read, files)
        engines["polars"][dataset] = {"seconds": round(seconds, 3), "rows": rows, "path": path}
        seconds, size = _timed(zlib_read, files)
        engines["zlib_only"][dataset] = {"seconds": round(seconds, 3), "bytes": size}
    totals = {
        name: round(sum(d["seconds"] for d in per_dataset.values()), 3)
        for name, per_dataset in engines.items()
    }
    compressed = sum(
        Path(f).stat().st_size for dataset in DATASETS for f in landing_files(landing, dataset)
    )
    return {
        "engines": engines,
        "seconds": totals,
        "floor_seconds": min(totals["duckdb"], totals["polars"]),
        "floor_engine": "duckdb" if totals["duckdb"] <= totals["polars"] else "polars",
        "compressed_mib": round(compressed / 2**20, 1),
        "decompressed_mib": round(
            sum(d["bytes"] for d in engines["zlib_only"].values()) / 2**20, 1
        ),
    }


def measure_medallion_floor(landing: Path, scratch: Path) -> dict[str, Any]:
    """Seconds to read the landing files (Polars) and persist them as three Delta layers, each
    read back from disk for the next: the I/O of a medallion lakehouse without its work."""
    import polars as pl
    from deltalake import write_deltalake

    from paisa_assets.resources.lakehouse import WRITER_PROPERTIES

    seconds = {"read": 0.0, "bronze": 0.0, "silver": 0.0, "gold": 0.0}
    started_at = time.time()  # epoch times: the parent reads the stage's CPU between them
    for dataset in DATASETS:
        started = time.perf_counter()
        frame, _ = polars_decode(landing_files(landing, dataset))
        seconds["read"] += time.perf_counter() - started
        for layer in ("bronze", "silver", "gold"):
            started = time.perf_counter()
            table = scratch / layer / dataset
            write_deltalake(
                str(table),
                frame.to_arrow(compat_level=pl.CompatLevel.oldest()),
                writer_properties=WRITER_PROPERTIES,
            )
            del frame
            frame = pl.read_delta(str(table))
            seconds[layer] += time.perf_counter() - started
        del frame
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "seconds": {name: round(value, 3) for name, value in seconds.items()},
        "medallion_floor_seconds": round(sum(seconds.values()), 3),
        "start": started_at,
        "end": time.time(),
    }
