"""From the measured scales to the datathon's: time, disk and memory at 139.8M reviews.

    python benchmarks/extrapolate.py benchmarks/results/scale_1m.json ... scale_30m.json

Reads the results files `benchmarks/run.py` wrote (one or more scales each), fits each figure
against the number of reviews by least squares (a fixed cost plus a cost per million reviews),
and states the fit's figure at TARGET_REVIEWS, the largest relative error of the fit on the
measured points (how straight the line is), and the layer whose slope is the largest: the
bottleneck. Writes `benchmarks/results/extrapolation.json` (the inputs are named in it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "results" / "extrapolation.json"
TARGET_REVIEWS = 139_832_500  # the datathon's landing zone: 2,500 folders
TARGET_FOLDERS = 2_500


def fit(points: list[tuple[float, float]]) -> dict[str, float]:
    """y = fixed + per_million * x (x in millions), least squares, and the worst misfit."""
    n = len(points)
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0
    fixed = mean_y - slope * mean_x
    misfit = max(abs(fixed + slope * x - y) / y for x, y in points if y) if points else 0.0
    return {
        "fixed": round(fixed, 3),
        "per_million": round(slope, 4),
        "worst_misfit": round(misfit, 3),
    }


def at(line: dict[str, float], millions: float) -> float:
    return line["fixed"] + line["per_million"] * millions


def scales_of(paths: list[Path]) -> list[dict[str, Any]]:
    """Every scale of every file, the file's name kept, smallest first."""
    scales = []
    for path in paths:
        results = json.loads(path.read_text())
        for scale in results["scales"]:
            scales.append(scale | {"file": path.name, "machine": results["machine"]})
    return sorted(scales, key=lambda s: s["reviews"])


def extrapolate(scales: list[dict[str, Any]]) -> dict[str, Any]:
    millions = [s["reviews"] / 1e6 for s in scales]
    target = TARGET_REVIEWS / 1e6

    def line(values: list[float]) -> dict[str, float]:
        return fit(list(zip(millions, values, strict=True)))

    pipeline = [s["pipeline"]["result"] for s in scales]
    series = {
        "paisa_seconds": [s["paisa_seconds"] for s in scales],
        "paisa_cpu_seconds": [s["pipeline"]["cpu_seconds"] for s in scales],
        "bronze_seconds": [p["layers"]["bronze"]["seconds"] for p in pipeline],
        "silver_seconds": [p["layers"]["silver"]["seconds"] for p in pipeline],
        "gold_seconds": [p["layers"]["gold"]["seconds"] for p in pipeline],
        "checks_seconds": [p["checks_seconds"] for p in pipeline],
        "dagster_bookkeeping_seconds": [
            p["dagster_bookkeeping"]["partition_event_seconds"] for p in pipeline
        ],
        "landing_mib": [s["generate"]["result"]["compressed_mib"] for s in scales],
        "lake_mib": [p["lake_mib"] for p in pipeline],
        "peak_rss_mib": [s["pipeline"]["peak_rss_mib"] for s in scales],
    }
    lines = {name: line(values) for name, values in series.items()}
    layers = ("bronze_seconds", "silver_seconds", "gold_seconds", "checks_seconds")
    bottleneck = max(layers, key=lambda name: lines[name]["per_million"])
    projected = {name: round(at(lines[name], target), 1) for name in lines}
    return {
        "target_reviews": TARGET_REVIEWS,
        "target_folders": TARGET_FOLDERS,
        "measured": [
            {
                "reviews": s["reviews"],
                "file": s["file"],
                **{name: values[i] for name, values in series.items()},
                "seconds_per_million": s["paisa_seconds_per_million_reviews"],
                "cpu_seconds_per_million": round(
                    s["pipeline"]["cpu_seconds"] / s["reviews"] * 1e6, 2
                ),
                "load_average_during_paisa": s["pipeline"]["load_average_after"],
                "other_cpu_seconds_during_paisa": s["pipeline"]["other_cpu_seconds"],
            }
            for i, s in enumerate(scales)
        ],
        "fits": lines,
        "at_target": projected,
        "bottleneck": {
            "layer": bottleneck.removesuffix("_seconds"),
            "seconds_per_million": lines[bottleneck]["per_million"],
            "share_of_slope": round(
                lines[bottleneck]["per_million"] / lines["paisa_seconds"]["per_million"], 2
            ),
        },
    }


def report(figures: dict[str, Any]) -> str:
    target = figures["at_target"]
    fits = figures["fits"]
    bottleneck = figures["bottleneck"]
    rows = [
        "| figure | fixed + per million reviews (worst misfit) | at 139.8M reviews |",
        "|---|---|---|",
    ]
    units = {"mib": "MiB", "seconds": "s"}
    for name, line in fits.items():
        unit = units["mib" if name.endswith("_mib") else "seconds"]
        rows.append(
            f"| {name} | {line['fixed']:,.1f} + {line['per_million']:,.2f} {unit} "
            f"({line['worst_misfit']:.0%}) | {target[name]:,.0f} {unit} |"
        )
    hours = target["paisa_seconds"] / 3600
    rows.append(
        f"\nEnd to end at {figures['target_reviews']:,} reviews: {target['paisa_seconds']:,.0f} s "
        f"({hours:.1f} h); bottleneck: {bottleneck['layer']} "
        f"({bottleneck['seconds_per_million']:.1f} s per million, "
        f"{bottleneck['share_of_slope']:.0%} of the slope)."
    )
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    paths = [Path(a) for a in argv] or sorted((HERE / "results").glob("scale_*.json"))
    figures = extrapolate(scales_of(paths))
    figures["inputs"] = [p.name for p in paths]
    figures["table_markdown"] = report(figures)
    OUTPUT.write_text(json.dumps(figures, indent=2) + "\n")
    print(figures["table_markdown"])
    print(f"\nwritten to {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
