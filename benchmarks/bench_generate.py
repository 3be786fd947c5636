"""How fast `paisa generate` writes a landing zone: rows/s, wall time, bytes, peak memory.

python benchmarks/bench_generate.py [REVIEWS]      (default 1,000,000)
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from paisa_assets.generator import generate_landing_zone

# The real source's density, as benchmarks/run.py generates it.
REVIEWS_PER_FOLDER = 56_000
REVIEWS_PER_METADATA_FOLDER = 100_000


def peak_rss_mib() -> tuple[float, float]:
    """Peak resident memory of this process and of its (worker) children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    reviews = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        start = time.perf_counter()
        report = generate_landing_zone(
            root,
            reviews=reviews,
            review_partitions=max(1, round(reviews / REVIEWS_PER_FOLDER)),
            metadata_partitions=max(1, reviews // REVIEWS_PER_METADATA_FOLDER),
            progress=False,
        )
        elapsed = time.perf_counter() - start
        written = sum(p.stat().st_size for p in root.rglob("*.json.gz"))
    own, children = peak_rss_mib()
    lines = report.reviews.lines + report.metadata.lines
    print(f"reviews requested      {reviews:>12,}")
    print(f"lines written          {lines:>12,}")
    print(f"wall time              {elapsed:>12.1f} s")
    print(f"throughput             {report.reviews.lines / elapsed:>12,.0f} review lines/s")
    print(f"compressed size        {written / 2**20:>12.1f} MiB")
    print(f"peak RSS parent        {own:>12.0f} MiB")
    print(f"peak RSS worker        {children:>12.0f} MiB")


if __name__ == "__main__":
    main()
