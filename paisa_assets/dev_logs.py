"""Which lines of `dagster dev` output `paisa dev` keeps.

An idle `paisa dev` printed a steady stream of lines: the sensor daemon logs two INFO
lines per sensor tick ("Checking for new runs for sensor: X", then "Sensor X skipped: ..."),
and the Event Hubs sensor ticks every 5 seconds. Those lines say nothing that the UI's tick
history does not; the daemon has no per-message level, so they are dropped here. Everything
else stays: warnings and errors, run launches ("Creating new run for X", "Launching run for X",
"Completed launch of run ..."), run-key skips, webserver and code-server messages, tracebacks.
"""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The daemon's line format: "<time> - dagster.daemon.SensorDaemon - INFO - <message>".
_IDLE_TICK = re.compile(
    r" - dagster\.daemon\.SensorDaemon - INFO - "
    r"(Checking for new runs for sensor: \S+"
    r"|Sensor \S+ skipped: .*"
    r"|No run requests returned for \S+, skipping)$"
)


def is_idle_tick_line(line: str) -> bool:
    """True for the INFO lines of a sensor tick that requested nothing."""
    return bool(_IDLE_TICK.search(_ANSI.sub("", line).rstrip("\r\n")))


def keep_line(line: str) -> bool:
    return not is_idle_tick_line(line)
