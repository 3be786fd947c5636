"""Streaming latency and throughput with the real Dagster daemon running.

Starts `dagster-daemon` on a temporary instance and a local event log, publishes review events
in bursts, and waits until silver.reviews_streaming holds them all. Prints publish-to-silver
latency (p50, p95: silver's processed_at minus the event's enqueued time) and the events per
second of each streaming run.

    python benchmarks/bench_streaming.py [EVENTS] [BURSTS]        (default 2,000 in 10 bursts)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    bursts = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    from dagster import AssetKey, DagsterInstance, RunsFilter

    from paisa_assets.generator.stream import generated_payloads
    from paisa_assets.resources.lakehouse import Lakehouse
    from paisa_assets.resources.local_event_log import LocalEventLog

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        home = root / "dagster_home"
        home.mkdir()
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        env = os.environ | {
            "DAGSTER_HOME": str(home),
            "PAISA_LANDING_ROOT": str(root / "landing"),
            "PAISA_LAKE_ROOT": str(root / "lake"),
            "PAISA_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
            "PAISA_EVENTS_ROOT": str(root / "events"),
            "PAISA_EVENTHUB_SENSOR_INTERVAL_SECONDS": "1",
        }
        log = LocalEventLog(root=str(root / "events"))
        lake = Lakehouse(root=str(root / "lake"))
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            payloads = generated_payloads(total, seed=99)
            per_burst = max(1, total // bursts)
            started = time.monotonic()
            for start in range(0, total, per_burst):
                log.publish(payloads[start : start + per_burst])
                time.sleep(2.0)
            while lake.count("silver.reviews_streaming") < total:
                if time.monotonic() - started > 600:
                    raise SystemExit("timed out waiting for silver")
                time.sleep(0.5)
            wall = time.monotonic() - started
            silver = lake.read("silver.reviews_streaming")
            latency = (silver["processed_at"] - silver["enqueued_time"]).dt.total_milliseconds()
            os.environ["DAGSTER_HOME"] = str(home)
            with DagsterInstance.get() as instance:
                materialized = instance.fetch_materializations(
                    AssetKey(["bronze", "eh_streaming"]), limit=10_000
                ).records
                written = {
                    m.run_id: m.asset_materialization.metadata["rows_written"].value
                    for m in materialized
                }
                rates = [
                    (written.get(r.dagster_run.run_id, 0), r.end_time - r.start_time)
                    for r in instance.get_run_records(RunsFilter(job_name="streaming_job"))
                    if r.start_time and r.end_time
                ]
        finally:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
    print(f"events published            {total:>10,} in {bursts} bursts, 2 s apart")
    print(f"all in silver after         {wall:>10.1f} s")
    print(f"publish->silver latency p50 {latency.quantile(0.5) / 1000:>10.1f} s")
    print(f"publish->silver latency p95 {latency.quantile(0.95) / 1000:>10.1f} s")
    print(f"streaming runs              {len(rates):>10}")
    for written, seconds in sorted(rates, key=lambda r: -r[0])[:5]:
        print(f"  run: {written:>6} events in {seconds:5.1f} s = {written / seconds:8.0f} events/s")


if __name__ == "__main__":
    main()
