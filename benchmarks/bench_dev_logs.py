"""How much an idle `paisa dev` prints, and how it stops.

Starts `paisa dev` twice on a temporary instance with nothing to ingest (default sensor
intervals: the Event Hubs sensor every 5 s under `paisa dev`, the landing and gold sensors every
30 s): once as it runs by default (idle sensor ticks dropped) and once with `--all-logs` (every
line, what `dagster dev` printed before). After the daemon's start-up, it counts the lines printed
and the sensor ticks the instance recorded over the same window, then sends SIGTERM to `paisa dev`
and measures how long the whole process tree takes to exit and what is left of it.

    python benchmarks/bench_dev_logs.py [--minutes 2]

Writes benchmarks/results/dev_logs.json (quoted by the README's "Driving it" section).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

sys.path.insert(0, str(REPO / "benchmarks"))

from instance_env import paisa_env  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "dev_logs.json"
WARM_UP_SECONDS = 15


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def _ticks(home: Path, start: float, end: float) -> int:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        return sum(
            len(
                instance.get_ticks(
                    state.instigator_origin_id, state.selector_id, after=start, before=end
                )
            )
            for state in instance.all_instigator_state()
        )


def measure(all_logs: bool, minutes: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="paisa-dev-logs-") as tmp:
        root = Path(tmp)
        env = paisa_env(root)
        port = _free_port()
        log_path = root / "paisa_dev.log"
        command = [str(BIN / "paisa"), "dev", "-p", str(port)] + (
            ["--all-logs"] if all_logs else []
        )
        with log_path.open("w") as log:
            paisa = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:

            def serving() -> bool:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                        return True
                except OSError:
                    return False

            _wait(serving, 300, "the webserver")
            _wait(lambda: "dagster.daemon - " in log_path.read_text(), 120, "the daemon")
            time.sleep(WARM_UP_SECONDS)
            lines_before, start = len(log_path.read_text().splitlines()), time.time()
            time.sleep(minutes * 60)
            lines_after, end = len(log_path.read_text().splitlines()), time.time()
            tree = psutil.Process(paisa.pid).children(recursive=True)
            stop_started = time.monotonic()
            paisa.send_signal(signal.SIGTERM)
            paisa.wait(timeout=300)
            stop_seconds = time.monotonic() - stop_started
            left = [p.pid for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        finally:
            if paisa.poll() is None:
                os.killpg(paisa.pid, signal.SIGKILL)
        window = end - start
        ticks = _ticks(Path(env["DAGSTER_HOME"]), start, end)
        return {
            "mode": "paisa dev --all-logs" if all_logs else "paisa dev",
            "idle_seconds": round(window, 1),
            "lines": lines_after - lines_before,
            "lines_per_idle_minute": round((lines_after - lines_before) * 60 / window, 1),
            "sensor_ticks": ticks,
            "processes_in_tree": len(tree),
            "sigterm_to_exit_seconds": round(stop_seconds, 1),
            "processes_left_after_sigterm": len(left),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_measure import machine_info

    machine = machine_info()
    runs = [measure(all_logs, args.minutes) for all_logs in (True, False)]
    for run in runs:
        print(
            f"{run['mode']:<22} {run['lines_per_idle_minute']:>5} lines/idle minute "
            f"({run['lines']} lines, {run['sensor_ticks']} sensor ticks in "
            f"{run['idle_seconds']} s); SIGTERM -> exit in {run['sigterm_to_exit_seconds']} s, "
            f"{run['processes_left_after_sigterm']} of {run['processes_in_tree']} processes left"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "bench_dev_logs.py",
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
