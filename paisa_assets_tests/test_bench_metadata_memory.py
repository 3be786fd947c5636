"""The product-keyed steps' memory benchmark on a tiny catalogue, so that it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_metadata_memory_benchmark_measures_every_step(tmp_path: Path) -> None:
    output = tmp_path / "metadata_memory.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_metadata_memory.py"),
            "--products",
            "20000",
            "--work",
            str(tmp_path / "work"),
            "--output",
            str(output),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads(output.read_text())
    assert results["machine"]["logical_cores"] >= 1
    (scale,) = results["scales"]
    assert scale["generate"]["metadata_folders"] == 2
    lines = scale["generate"]["metadata_lines"]
    assert scale["bronze"]["rows"] + scale["bronze"]["quarantined"] == lines
    # Silver: one row per listed product; no chunk of the backfill updates a row.
    assert 18_000 < scale["silver"]["rows"] == scale["silver"]["inserted"] < lines
    assert scale["silver"]["updated"] == 0
    assert scale["summary"]["rows"] == 20_000
    for step in ("bronze", "silver", "summary"):
        assert scale[step]["peak_rss_mib"] > scale[step]["import_rss_mib"] > 0
    assert not (tmp_path / "work").exists()  # removed without --keep
