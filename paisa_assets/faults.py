"""Fault injection for the reliability tests: kill this process at a named point of a write.

A lakehouse is trusted only if a crash at any moment loses and doubles nothing. Timing-based
kills from outside hit a different moment on every run; a named crash point makes the worst
moments reproducible: the process SIGKILLs itself (no `finally`, no flush, no atexit, exactly
like the OOM killer or a pulled plug) when it reaches the point named by `PAISA_CRASH_AT`.

    PAISA_CRASH_AT=streaming.after_range                           the first time it is reached
    PAISA_CRASH_AT=bronze.during_write:bronze.amazon_reviews#3     the third time (this process)

With `PAISA_FAULT_STATE=<file>` too, times are counted across processes in that file and the
crash happens once: the nth time overall.

`PAISA_HANG_AT=<point>` (with `PAISA_FAULT_STATE`) makes the first process that reaches the
point stop there for good, so that a test can kill it, or what launched it, from outside.

A failure, rather than a crash, is what a run does when a dependency keeps erroring: the step
raises, the run fails, and whatever retries it must get it done later. `fault_point` raises the
first N times it is reached, counted across processes in the file `PAISA_FAULT_STATE` names
(each attempt is a new run worker), and never again:

    PAISA_FAIL_AT=streaming.before_range*3 PAISA_FAULT_STATE=/tmp/faults.count

Without the variables every `crash_point` and `fault_point` call is a dictionary lookup and
nothing else. The points, and what each proves, are listed in RELIABILITY.md.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter

CRASH_AT = "PAISA_CRASH_AT"
FAIL_AT = "PAISA_FAIL_AT"
HANG_AT = "PAISA_HANG_AT"
FAULT_STATE = "PAISA_FAULT_STATE"


class InjectedFault(RuntimeError):
    """The failure `fault_point` raises (a test asked for it)."""


_reached: Counter[str] = Counter()


def armed(name: str) -> bool:
    """True when `PAISA_CRASH_AT` names this point (for code that must prepare the crash)."""
    wanted = os.environ.get(CRASH_AT)
    return bool(wanted) and wanted.partition("#")[0] == name


def crash_point(name: str) -> None:
    """SIGKILL this process if `PAISA_CRASH_AT` names this point (and its count is reached).

    With `PAISA_FAULT_STATE` set, the count runs across processes and the crash happens exactly
    once (at the nth time overall): a run killed once, and its next attempts left alone.
    """
    _hang_if_armed(name)
    if not armed(name):
        return
    nth = int(os.environ[CRASH_AT].partition("#")[2] or 1)
    state = os.environ.get(FAULT_STATE)
    if state:
        reached = _count_in(state, f"crash:{name}")
        if reached != nth:
            return
    else:
        _reached[name] += 1
        reached = _reached[name]
        if reached < nth:
            return
    sys.stderr.write(f"paisa fault injection: SIGKILL at {name} (reached {reached}x)\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _hang_if_armed(name: str) -> None:
    """Stop for good (a hung worker, to be killed from outside) the first time overall that
    `PAISA_HANG_AT` names this point; counted in `PAISA_FAULT_STATE`, which it requires."""
    if os.environ.get(HANG_AT) != name or not os.environ.get(FAULT_STATE):
        return
    if _count_in(os.environ[FAULT_STATE], f"hang:{name}") == 1:
        sys.stderr.write(f"paisa fault injection: hanging at {name} (pid {os.getpid()})\n")
        sys.stderr.flush()
        while True:
            time.sleep(60)


def _count_in(state: str, name: str) -> int:
    """Record one more time `name` was reached in the state file; returns the new total."""
    with open(state, "a+", encoding="utf-8") as counter:
        counter.seek(0)
        reached = counter.read().splitlines().count(name) + 1
        counter.write(f"{name}\n")
        counter.flush()
        os.fsync(counter.fileno())
    return reached


def fault_point(name: str) -> None:
    """Raise InjectedFault if `PAISA_FAIL_AT` names this point and it has failed fewer times
    than asked (`name*N`, default once), counting in the `PAISA_FAULT_STATE` file."""
    wanted = os.environ.get(FAIL_AT)
    if not wanted or wanted.partition("*")[0] != name:
        return
    times = int(wanted.partition("*")[2] or 1)
    state = os.environ.get(FAULT_STATE)
    if state:
        failed = _count_in(state, f"fail:{name}") - 1
    else:
        _reached[f"fail:{name}"] += 1
        failed = _reached[f"fail:{name}"] - 1
    if failed >= times:
        return
    raise InjectedFault(f"paisa fault injection: failure {failed + 1} of {times} at {name}")
