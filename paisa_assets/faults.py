"""Fault injection for the reliability tests: kill this process at a named point of a write.

A lakehouse is trusted only if a crash at any moment loses and doubles nothing. Timing-based
kills from outside hit a different moment on every run; a named crash point makes the worst
moments reproducible: the process SIGKILLs itself (no `finally`, no flush, no atexit, exactly
like the OOM killer or a pulled plug) when it reaches the point named by `PAISA_CRASH_AT`.

    PAISA_CRASH_AT=streaming.after_range                           the first time it is reached
    PAISA_CRASH_AT=bronze.during_write:bronze.amazon_reviews#3     the third time (this process)

With `PAISA_CRASH_MODE=hang` the process stops making progress instead of dying (as when the
machine under it vanished): it sleeps until someone kills it.

With `PAISA_CRASH_ONCE_FILE` also set, the point is armed only while that file exists, and the
crash deletes it first: across many processes (the daemon's run workers), exactly one dies.

Without the variable every `crash_point` call is a dictionary lookup and nothing else. The
points, and what each proves, are listed in RELIABILITY.md.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter

CRASH_AT = "PAISA_CRASH_AT"
CRASH_ONCE_FILE = "PAISA_CRASH_ONCE_FILE"
CRASH_MODE = "PAISA_CRASH_MODE"

_reached: Counter[str] = Counter()


def armed(name: str) -> bool:
    """True when `PAISA_CRASH_AT` names this point (for code that must prepare the crash)."""
    wanted = os.environ.get(CRASH_AT)
    return bool(wanted) and wanted.partition("#")[0] == name


def crash_point(name: str) -> None:
    """SIGKILL this process if `PAISA_CRASH_AT` names this point (and its count is reached)."""
    if not armed(name):
        return
    nth = os.environ[CRASH_AT].partition("#")[2]
    _reached[name] += 1
    if _reached[name] < int(nth or 1):
        return
    once = os.environ.get(CRASH_ONCE_FILE)
    if once:
        try:
            os.unlink(once)  # only the process that removes the file crashes
        except FileNotFoundError:
            return
    hang = os.environ.get(CRASH_MODE) == "hang"
    action = "hanging" if hang else "SIGKILL"
    sys.stderr.write(f"paisa fault injection: {action} at {name} (reached {_reached[name]}x)\n")
    sys.stderr.flush()
    while hang:
        time.sleep(3600)
    os.kill(os.getpid(), signal.SIGKILL)
