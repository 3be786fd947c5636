"""`paisa dev`: a signal stops the whole `dg dev` process tree, and idle sensor ticks do not
flood the terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from dagster import DagsterInstance

from paisa_assets.dev_logs import is_idle_tick_line
from paisa_assets.process_group import group_members
from paisa_assets_tests.support.daemon import BIN, REPO, dagster_env, wait_for
from paisa_assets_tests.support.ports import free_port

# Lines as `dagster dev` printed them on this machine (colours included).
IDLE = [
    "\x1b[32m2026-12-03 07:40:21 +0000\x1b[0m - dagster.daemon.SensorDaemon - \x1b[34mINFO\x1b[0m"
    " - Checking for new runs for sensor: eventhub_sensor\n",
    "2026-12-03 07:40:21 +0000 - dagster.daemon.SensorDaemon - INFO - Sensor landing_zone_sensor"
    " skipped: nothing new in /tmp/landing: 0 amazon_reviews file(s), 0 amazon_metadata file(s)\n",
    "2026-12-03 07:40:21 +0000 - dagster.daemon.SensorDaemon - INFO - No run requests returned"
    " for gold_sensor, skipping\n",
]
KEPT = [
    "2026-12-03 07:41:02 +0000 - dagster.daemon.SensorDaemon - INFO - Creating new run for"
    " landing_zone_sensor\n",
    "2026-12-03 07:41:02 +0000 - dagster.daemon.SensorDaemon - INFO - Launching run for"
    " landing_zone_sensor\n",
    "2026-12-03 07:41:03 +0000 - dagster.daemon.SensorDaemon - INFO - Completed launch of run"
    " 5d1e... for landing_zone_sensor\n",
    "2026-12-03 07:41:03 +0000 - dagster.daemon.SensorDaemon - WARNING - Sensor gold_sensor"
    " skipped: something odd\n",
    "2026-12-03 07:41:03 +0000 - dagster.daemon.SensorDaemon - ERROR - Error occurred during"
    " the execution of evaluation_fn for sensor eventhub_sensor\n",
    "2026-12-03 07:40:22 +0000 - dagster-webserver - INFO - Serving dagster-webserver on"
    " http://127.0.0.1:3471 in process 23954\n",
    '  File "/work/paisa_assets/sensors/landing.py", line 10, in landing_zone_sensor\n',
]


def test_idle_sensor_ticks_are_dropped_and_everything_else_kept() -> None:
    assert [is_idle_tick_line(line) for line in IDLE] == [True] * len(IDLE)
    assert [is_idle_tick_line(line) for line in KEPT] == [False] * len(KEPT)


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _alive(processes: list[psutil.Process]) -> list[str]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(process.cmdline())[:120])
        except psutil.NoSuchProcess:
            continue
    return alive


def test_a_signal_stops_a_tree_that_ignores_interrupts(tmp_path: Path) -> None:
    """A child that ignores SIGINT (as a busy code server may) is terminated after the grace
    period; nothing of the group survives paisa."""
    script = (
        "import os, sys\n"
        "from paisa_assets.process_group import run_as_group\n"
        "tree = 'trap \"\" INT; sleep 300 & sleep 300 & wait'\n"
        "sys.exit(run_as_group(['sh', '-c', tree], env=dict(os.environ), grace_seconds=2))\n"
    )
    runner = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, start_new_session=True)
    try:
        wait_for(lambda: len(_descendants(runner.pid)) >= 3, 30, "the tree to start", every=0.2)
        tree = _descendants(runner.pid)
        group = tree[0].pid
        started = time.monotonic()
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=60)
        assert time.monotonic() - started < 30
        assert _alive(tree) == []
        assert group_members(group) == []
    finally:
        with_group = runner.pid
        if runner.poll() is None:
            os.killpg(with_group, signal.SIGKILL)


def test_a_second_signal_kills_the_tree_at_once() -> None:
    script = (
        "import os, sys\n"
        "from paisa_assets.process_group import run_as_group\n"
        "tree = 'trap \"\" INT TERM; sleep 300 & wait'\n"
        "sys.exit(run_as_group(['sh', '-c', tree], env=dict(os.environ), grace_seconds=120))\n"
    )
    runner = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, start_new_session=True)
    try:
        wait_for(lambda: len(_descendants(runner.pid)) >= 2, 30, "the tree to start", every=0.2)
        tree = _descendants(runner.pid)
        started = time.monotonic()
        runner.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert runner.poll() is None  # waiting for the grace period
        runner.send_signal(signal.SIGINT)
        runner.wait(timeout=60)
        assert time.monotonic() - started < 30
        assert _alive(tree) == []
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)


def ticks(dagster_home: str) -> int:
    """Sensor and schedule ticks the instance at `dagster_home` has recorded."""
    with DagsterInstance.from_config(dagster_home) as instance:
        return sum(
            len(instance.get_ticks(state.instigator_origin_id, state.selector_id))
            for state in instance.all_instigator_state()
        )


@pytest.mark.slow
def test_sigterm_to_paisa_dev_leaves_no_process_and_idle_ticks_stay_quiet(tmp_path: Path) -> None:
    port = free_port()
    env = dagster_env(tmp_path, PAISA_EVENTHUB_SENSOR_INTERVAL_SECONDS="2")
    log_path = tmp_path / "paisa_dev.log"
    with log_path.open("w") as log:
        paisa = subprocess.Popen(
            [str(BIN / "paisa"), "dev", "-p", str(port)],
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

        wait_for(serving, 240, "the webserver of paisa dev")
        # The Event Hubs sensor ticks every 2 s: wait for a few idle ticks (whose log lines
        # must be dropped), polled rather than slept for.
        wait_for(lambda: "dagster.daemon - " in log_path.read_text(), 120, "the daemon")
        wait_for(lambda: ticks(env["DAGSTER_HOME"]) >= 3, 120, "three idle sensor ticks")
        tree = _descendants(paisa.pid)
        commands = " ".join(" ".join(p.cmdline()) for p in tree)
        assert "dagster_webserver" in commands and "dagster._daemon" in commands
        dev_group = tree[0].pid
        assert os.getpgid(dev_group) == dev_group != os.getpgid(paisa.pid)

        paisa.send_signal(signal.SIGTERM)
        paisa.wait(timeout=180)
        assert _alive(tree) == []
        assert group_members(dev_group) == []
    finally:
        if paisa.poll() is None:
            os.killpg(paisa.pid, signal.SIGKILL)
            paisa.wait(timeout=30)
    output = log_path.read_text()
    assert ticks(env["DAGSTER_HOME"]) >= 3  # idle ticks did happen: their lines were dropped
    assert "SupersessionWarning" not in output
    assert "Serving dagster-webserver" in output
    assert [line for line in output.splitlines() if is_idle_tick_line(line)] == []
    assert "Shutting down Dagster services" in output
