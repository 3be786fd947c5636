"""Fault injection for the reliability tests: kill this process at a named point of a write.

A lakehouse is trusted only if a crash at any moment loses and doubles nothing. Timing-based
kills from outside hit a different moment on every run; a named crash point makes the worst
moments reproducible: the process SIGKILLs itself (no `finally`, no flush, no atexit, exactly
like the OOM killer or a pulled plug) when it reaches the point named by `PAISA_CRASH_AT`.

    PAISA_CRASH_AT=streaming.after_range                           the first time it is reached
    PAISA_CRASH_AT=bronze.during_write:bronze.amazon_reviews#3     the third time (this process)

Without the variable every `crash_point` call is a dictionary lookup and nothing else. The
points, and what each proves, are listed in RELIABILITY.md.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

CRASH_AT = "PAISA_CRASH_AT"

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
    sys.stderr.write(f"paisa fault injection: SIGKILL at {name} (reached {_reached[name]}x)\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
