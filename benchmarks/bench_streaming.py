"""Streaming latency and throughput with the real Dagster daemon running.

Starts `dagster-daemon` on a temporary instance, with the Event Hubs emulator's AMQP endpoint
(the real `azure-eventhub` client on both sides, the default) or the local event log, publishes
review events in bursts, and waits until silver.reviews_streaming holds them all. Reports
publish-to-silver latency (p50, p95: silver's processed_at minus the event's enqueued time) and
the events per second of each streaming run. The latency includes the sensor's polling interval
(the project's default unless --interval says otherwise) and the run's start: it is what a user
waiting for an event in silver would see. One warm-up event goes first and is waited for, so
the daemon's own start-up (loading the code location, the first sensor tick) is not counted.

    python benchmarks/bench_streaming.py [--events 2000] [--bursts 10] [--source amqp|local]
        [--interval SECONDS] [--output benchmarks/results/streaming_amqp.json]

`benchmarks/run.py` calls `measure_streaming` for its streaming section.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

sys.path.insert(0, str(REPO / "benchmarks"))

from instance_env import paisa_env, running_daemon  # noqa: E402

BURST_GAP_SECONDS = 2.0
TIMEOUT_SECONDS = 600


def measure_streaming(
    total: int,
    bursts: int,
    *,
    gap_seconds: float = BURST_GAP_SECONDS,
    source: str = "local",
    sensor_interval: str | None = "1",
) -> dict[str, Any]:
    """Publish `total` events in `bursts`, `gap_seconds` apart; wait for silver; measure.

    `source` is "local" (the event log) or "amqp" (the emulator, through the real client);
    `sensor_interval` None leaves the project's default sensor interval."""
    from contextlib import ExitStack

    from dagster import AssetKey, DagsterInstance, RunsFilter

    from paisa_assets.generator.stream import generated_payloads
    from paisa_assets.resources.azure_event_hubs import AzureEventHubs
    from paisa_assets.resources.lakehouse import Lakehouse
    from paisa_assets.resources.local_event_log import LocalEventLog
    from paisa_assets.settings import DEFAULTS, EVENTHUB_SENSOR_INTERVAL
    from paisa_eventhub_emulator.api import EventHubEmulator

    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        root = Path(folder)
        env = paisa_env(root)
        home = Path(env["DAGSTER_HOME"])
        env.pop(EVENTHUB_SENSOR_INTERVAL, None)
        if sensor_interval is not None:
            env[EVENTHUB_SENSOR_INTERVAL] = sensor_interval
        log: Any = LocalEventLog(root=str(root / "events"))
        if source == "amqp":
            emulator = stack.enter_context(EventHubEmulator(port=0, partitions=4))
            env["PAISA_EVENTHUB_CONNECTION_STRING"] = emulator.connection_string
            log = AzureEventHubs(
                connection_string=emulator.connection_string, eventhub_name="reviews"
            )
        publish = stack.enter_context(log.publishing())
        lake = Lakehouse(root=str(root / "lake"))
        stack.enter_context(running_daemon(env))
        import polars as pl

        warm_up, *payloads = generated_payloads(total + 1, seed=99)
        publish([warm_up])
        _wait_for_silver(lake, 1)
        measured_from = datetime.now(UTC)
        per_burst = max(1, -(-total // bursts))
        started = time.monotonic()
        for start in range(0, total, per_burst):
            publish(payloads[start : start + per_burst])
            time.sleep(gap_seconds)
        _wait_for_silver(lake, total + 1)
        wall = time.monotonic() - started
        silver = lake.read(
            "silver.reviews_streaming", where=pl.col("enqueued_time") >= measured_from
        )
        latency = (silver["processed_at"] - silver["enqueued_time"]).dt.total_milliseconds()
        previous_home = os.environ.get("DAGSTER_HOME")
        os.environ["DAGSTER_HOME"] = str(home)
        try:
            with DagsterInstance.get() as instance:
                # Silver holds every event before its run ends (its checks come after): wait for
                # the runs' end, or the last one would be left out of the per-run figures.
                _wait_until_runs_end(instance)
                materialized = instance.fetch_materializations(
                    AssetKey(["bronze", "eh_streaming"]), limit=10_000
                ).records
                written = {
                    m.run_id: m.asset_materialization.metadata["rows_written"].value
                    for m in materialized
                }
                runs = [
                    (int(written.get(r.dagster_run.run_id, 0)), r.end_time - r.start_time)
                    for r in instance.get_run_records(RunsFilter(job_name="streaming_job"))
                    if r.start_time and r.end_time and r.start_time >= measured_from.timestamp()
                ]
        finally:
            if previous_home is None:
                os.environ.pop("DAGSTER_HOME", None)
            else:
                os.environ["DAGSTER_HOME"] = previous_home
    rates = [events / seconds for events, seconds in runs if events and seconds > 0]
    return {
        "source": "Event Hubs emulator over AMQP" if source == "amqp" else "local event log",
        "sensor_interval_seconds": float(sensor_interval or DEFAULTS[EVENTHUB_SENSOR_INTERVAL]),
        "events": total,
        "bursts": bursts,
        "burst_gap_seconds": gap_seconds,
        "all_in_silver_after_seconds": round(wall, 2),
        "latency_p50_seconds": round(float(latency.quantile(0.5)) / 1000, 2),
        "latency_p95_seconds": round(float(latency.quantile(0.95)) / 1000, 2),
        "latency_max_seconds": round(float(latency.max()) / 1000, 2),
        "runs": len(runs),
        "events_per_run_median": statistics.median([e for e, _ in runs]) if runs else 0,
        "run_seconds_median": round(statistics.median([s for _, s in runs]), 2) if runs else 0,
        "events_per_second_per_run_median": round(statistics.median(rates)) if rates else 0,
        "events_per_second_per_run_max": round(max(rates)) if rates else 0,
    }


def measure_publish(events: int = 5_000) -> dict[str, Any]:
    """`paisa publish --count N` with default flags to the emulator's AMQP endpoint: the CLI's
    own figure (events over the seconds it spent sending, one producer for all batches)."""
    import re

    from paisa_eventhub_emulator.api import EventHubEmulator

    with EventHubEmulator(port=0, partitions=4) as emulator:
        env = os.environ | {"PAISA_EVENTHUB_CONNECTION_STRING": emulator.connection_string}
        done = subprocess.run(
            [str(BIN / "paisa"), "publish", "--count", str(events)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        stored = emulator.event_count("reviews")
    match = re.search(r"sent (\d+) event\(s\) .* in ([\d.]+) s", done.stdout)
    if match is None or stored != events:
        raise RuntimeError(f"paisa publish did not send {events} events: {done.stdout}")
    seconds = float(match.group(2))
    return {
        "command": f"paisa publish --count {events}",
        "events": events,
        "seconds": seconds,
        "events_per_second": round(events / seconds),
    }


def _wait_until_runs_end(instance: Any) -> None:
    from paisa_assets.run_health import active_runs

    started = time.monotonic()
    while active_runs(instance, "streaming_job"):
        if time.monotonic() - started > TIMEOUT_SECONDS:
            raise RuntimeError("timed out waiting for the streaming runs to end")
        time.sleep(0.25)


def _wait_for_silver(lake: Any, rows: int) -> None:
    started = time.monotonic()
    while lake.count("silver.reviews_streaming") < rows:
        if time.monotonic() - started > TIMEOUT_SECONDS:
            raise RuntimeError(f"timed out waiting for {rows} rows in silver.reviews_streaming")
        time.sleep(0.25)


def main() -> None:
    import argparse
    import json

    from bench_measure import machine_info

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--gap", type=float, default=BURST_GAP_SECONDS, help="seconds")
    parser.add_argument("--source", choices=("amqp", "local"), default="amqp")
    parser.add_argument(
        "--interval", default=None, help="sensor interval in seconds (default: the project's)"
    )
    parser.add_argument("--output", type=Path, default=None, help="results JSON to write")
    parser.add_argument(
        "--repeat", type=int, default=1, help="trials (the figures are their medians)"
    )
    args = parser.parse_args()
    machine = machine_info()
    publish = measure_publish()
    print(f"paisa publish (defaults)    {publish['events_per_second']:>10,} events/s")
    trials = [
        measure_streaming(
            args.events,
            args.bursts,
            gap_seconds=args.gap,
            source=args.source,
            sensor_interval=args.interval,
        )
        for _ in range(args.repeat)
    ]
    figures = dict(trials[0])
    for name, value in trials[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            figures[name] = statistics.median(trial[name] for trial in trials)
    print(f"source                      {figures['source']}")
    print(f"sensor interval             {figures['sensor_interval_seconds']:>10.1f} s")
    print(f"events published            {args.events:>10,} in {args.bursts} bursts")
    print(f"all in silver after         {figures['all_in_silver_after_seconds']:>10.1f} s")
    print(f"publish->silver latency p50 {figures['latency_p50_seconds']:>10.1f} s")
    print(f"publish->silver latency p95 {figures['latency_p95_seconds']:>10.1f} s")
    print(f"streaming runs              {figures['runs']:>10}")
    print(f"events/s per run, median    {figures['events_per_second_per_run_median']:>10,}")
    print(f"events/s per run, max       {figures['events_per_second_per_run_max']:>10,}")
    if args.repeat > 1:
        print(
            "(medians of",
            args.repeat,
            "trials; p50 / p95 of each:",
            ", ".join(f"{t['latency_p50_seconds']} / {t['latency_p95_seconds']}" for t in trials)
            + ")",
        )
    if args.output is not None:
        machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        args.output.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "benchmark": "publish-to-silver latency with dagster-daemon",
            "command": "python " + " ".join(sys.argv),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine,
            "figures": figures,
            "trials": trials,
            "publish": publish,
        }
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        print(f"written to {args.output}")


if __name__ == "__main__":
    main()
