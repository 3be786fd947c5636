"""Run a command tree (`dagster dev`: webserver, daemon, code servers, run workers) as one
process group that a signal to paisa stops as a whole.

`subprocess.call` forwards no signal: `kill <paisa>` left `dagster dev` and its children
running, and only a terminal's Ctrl-C (SIGINT to the whole foreground group) stopped them. Here
the child gets a process group of its own, SIGTERM/SIGINT/SIGHUP to paisa become SIGINT to that
group (the Ctrl-C path, which `dagster dev` and its services shut down on cleanly), and paisa
waits; whatever is still alive after the grace period is killed, at once on a second signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group; zombies are already dead and are reaped
    by whoever adopted them, so they do not count."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel whether the group still exists
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces or parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_until_empty(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return True
        time.sleep(0.2)
    return not group_members(pgid)


def stop_group(pgid: int, *, grace_seconds: float, sig: int = signal.SIGINT) -> None:
    """`sig` to every process of the group, then SIGTERM and SIGKILL to what outlives the grace
    period (a code server or run worker that ignores the interrupt)."""
    _signal_group(pgid, sig)
    if _wait_until_empty(pgid, grace_seconds):
        return
    _signal_group(pgid, signal.SIGTERM)
    if _wait_until_empty(pgid, 10):
        return
    _signal_group(pgid, signal.SIGKILL)
    _wait_until_empty(pgid, 10)


def _pump(stream, keep: Callable[[str], bool]) -> None:
    """Copy the kept lines to our stdout; if that is gone (`paisa dev | head`), keep draining
    the pipe so the children never block on a full one."""
    writable = True
    for line in stream:
        if writable and keep(line):
            try:
                sys.stdout.write(line)
                sys.stdout.flush()
            except OSError:
                writable = False


def run_as_group(
    command: Sequence[str],
    *,
    env: dict[str, str],
    grace_seconds: float = 90.0,
    keep_line: Callable[[str], bool] | None = None,
) -> int:
    """Run `command` in a new process group until it exits or paisa is signalled; return its
    exit code. `keep_line` filters the command's output (stdout and stderr, line by line)."""
    received: list[int] = []
    group: list[int] = []  # the child's pid, which is its process group's id

    def forward(signum: int, _frame: object) -> None:
        if received and group:  # a second Ctrl-C or kill: the user will not wait any longer
            _signal_group(group[0], signal.SIGKILL)
        received.append(signum)

    # Handlers first: a signal arriving while the child starts must not orphan it.
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    pump = None
    try:
        process = subprocess.Popen(
            list(command),
            env=env,
            process_group=0,
            stdout=subprocess.PIPE if keep_line else None,
            stderr=subprocess.STDOUT if keep_line else None,
            text=True,
            bufsize=1,
            errors="replace",
        )
        group.append(process.pid)
        if keep_line is not None:
            pump = threading.Thread(target=_pump, args=(process.stdout, keep_line), daemon=True)
            pump.start()
        while process.poll() is None and not received:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.5)
        if received:
            stop_group(group[0], grace_seconds=grace_seconds)
        returncode = process.wait()
    finally:
        # Whatever the outcome (the command crashed, paisa was interrupted), leave no orphan:
        # the webserver, daemon and code servers share the command's process group.
        if group and group_members(group[0]):
            stop_group(group[0], grace_seconds=min(grace_seconds, 15.0), sig=signal.SIGTERM)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pump is not None:
            pump.join(timeout=5)
    return returncode
