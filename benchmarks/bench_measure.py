"""Measuring a benchmark stage from outside: wall time, process-tree peak memory, CPU noise.

Every stage of `benchmarks/run.py` runs in its own child process, so that its peak memory is
that of its whole process tree (the Dagster run, DuckDB's threads, the JVM that PySpark starts,
the generator's worker pool), measured the same way for every engine, and so that one stage's
heap cannot inflate the next one's figure.

The machine is shared with other workers: beside each stage's own CPU time we record how busy
the whole machine was, so a figure taken while someone else was compiling can be recognised.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

SAMPLE_SECONDS = 0.05
MIB = 2**20


def tree_usage(root: psutil.Process) -> dict[tuple[int, float], tuple[int, float]]:
    """(resident bytes, CPU seconds) of `root` and each descendant, keyed by (pid, start).

    RSS counts shared pages (libraries) once per process, so a tree of several Python
    processes is slightly over-stated; PSS would be exact but costs a read of every page map
    per sample, too slow to catch short peaks.
    """
    usage: dict[tuple[int, float], tuple[int, float]] = {}
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return usage
    for process in processes:
        try:
            with process.oneshot():
                cpu = process.cpu_times()
                usage[(process.pid, process.create_time())] = (
                    process.memory_info().rss,
                    cpu.user + cpu.system,
                )
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return usage


class TreeMemorySampler:
    """Samples a process tree on a background thread: peak total RSS, and CPU time.

    CPU time is summed per process from its last sample, so processes the stage does not wait
    for (the JVM behind PySpark, the daemon's run workers) are counted too; what a process
    spends after its last sample (at most one interval) is missed.
    """

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._cpu: dict[tuple[int, float], float] = {}
        self.peak_bytes = 0
        self.samples = 0
        self.timeline: list[tuple[float, int]] = []  # (epoch seconds, tree RSS bytes)
        # (epoch seconds, the tree's CPU seconds so far): a step's CPU is the difference
        # between its end and its start, whichever processes of the tree did the work.
        self.cpu_timeline: list[tuple[float, float]] = []

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            usage = tree_usage(self._process)
            rss = sum(rss for rss, _ in usage.values())
            self.peak_bytes = max(self.peak_bytes, rss)
            self.timeline.append((time.time(), rss))
            for key, (_, cpu) in usage.items():
                self._cpu[key] = cpu
            self.cpu_timeline.append((time.time(), self.cpu_seconds))
            self.samples += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent not idle since boot (all cores)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


@dataclass
class StageRun:
    """What the parent saw of one stage: its result plus the outside measurements."""

    name: str
    result: dict[str, Any]
    wall_seconds: float
    peak_rss_mib: float
    cpu_seconds: float  # the stage's own process tree (user + system)
    machine_busy_cpu_seconds: float  # every process on the machine, during the stage
    other_cpu_seconds: float  # machine busy minus the stage: the other workers' noise
    load_average_before: list[float]  # the machine's 1, 5 and 15 minute load averages
    load_average_after: list[float]
    rss_timeline: list[tuple[float, float]]  # (epoch seconds, MiB), for per-step peaks
    # (epoch seconds, the tree's CPU seconds so far), for per-step CPU (`cpu_between`)
    cpu_timeline: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The figures, the memory timeline thinned to its peak per second and the CPU
        timeline to its last sample per second (a results file stays small at any scale)."""
        figures = asdict(self)
        per_second: dict[int, tuple[float, float]] = {}
        for when, mib in self.rss_timeline:
            second = int(when)
            if second not in per_second or mib > per_second[second][1]:
                per_second[second] = (when, mib)
        figures["rss_timeline"] = [per_second[second] for second in sorted(per_second)]
        last = {int(when): (when, cpu) for when, cpu in self.cpu_timeline}
        figures["cpu_timeline"] = [last[second] for second in sorted(last)]
        return figures


def run_stage(
    name: str, command: list[str], result_path: Path, log_path: Path, timeout: float
) -> StageRun:
    """Run `command` (which writes its JSON result to `result_path`) and measure its tree.

    The stage's output (Spark's and Dagster's logs) goes to `log_path`, shown on failure.
    """
    result_path.unlink(missing_ok=True)
    load_before = [round(x, 2) for x in os.getloadavg()]
    busy_before = busy_cpu_seconds()
    started = time.perf_counter()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        with TreeMemorySampler(process.pid) as sampler:
            try:
                code = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
                code = None
    wall = time.perf_counter() - started
    busy = busy_cpu_seconds() - busy_before
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        what = "timed out" if code is None else f"failed with exit code {code}"
        raise RuntimeError(f"stage {name} {what}: {' '.join(command)}\n{tail}")
    result = json.loads(result_path.read_text())
    cpu = sampler.cpu_seconds
    return StageRun(
        name=name,
        result=result,
        wall_seconds=round(wall, 3),
        peak_rss_mib=round(sampler.peak_bytes / MIB, 1),
        cpu_seconds=round(cpu, 2),
        machine_busy_cpu_seconds=round(busy, 2),
        other_cpu_seconds=round(max(0.0, busy - cpu), 2),
        load_average_before=load_before,
        load_average_after=[round(x, 2) for x in os.getloadavg()],
        rss_timeline=[(round(t, 2), round(b / MIB, 1)) for t, b in sampler.timeline],
        cpu_timeline=[(round(t, 2), round(c, 2)) for t, c in sampler.cpu_timeline],
    )


def peak_between(timeline: list[tuple[float, float]], start: float, end: float) -> float:
    """Peak tree RSS (MiB) sampled between two epoch times (a step's start and end)."""
    return max((mib for t, mib in timeline if start <= t <= end), default=0.0)


def cpu_between(timeline: list[tuple[float, float]], start: float, end: float) -> float:
    """CPU seconds the tree spent between two epoch times (a step's start and end), from the
    samples nearest inside them: exact to a sampling interval (50 ms) at each end."""
    inside = [cpu for t, cpu in timeline if start <= t <= end]
    return round(inside[-1] - inside[0], 2) if len(inside) > 1 else 0.0


def write_stage_result(path: Path, result: dict[str, Any]) -> None:
    """A stage's last act: its figures for the parent process."""
    path.write_text(json.dumps(result, indent=2, default=str))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """The machine and the library versions the figures belong to."""
    memory = psutil.virtual_memory()
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "memory_gib": round(memory.total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "java": (java.stderr.splitlines() or ["unknown"])[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            name: _version(name)
            for name in ("dagster", "deltalake", "polars", "duckdb", "pyarrow", "pyspark")
        },
        "bytecode_cached": bytecode_cached(),
    }


def bytecode_cached() -> bool:
    """Whether Dagster's modules have compiled bytecode (`.pyc`) to load. Without it (a venv
    built with PYTHONDONTWRITEBYTECODE set) every process compiles Dagster from source, several
    CPU-seconds per run worker and parse worker that a `pip install` never costs a user."""
    import importlib.util

    spec = importlib.util.find_spec("dagster")
    if spec is None or spec.origin is None:
        return False
    return Path(importlib.util.cache_from_source(spec.origin)).exists()
