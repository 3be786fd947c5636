"""Worker functions that fail on purpose, for the parsing pool's tests.

They live in a module of their own, importing only the parser, because a spawned worker imports
the module of the function it runs: a test module would bring Dagster and Polars into every
worker. Each has the signature of `parallel_parse.parse_file_bytes`.
"""

from __future__ import annotations

import os
from pathlib import Path

from paisa_assets.transforms.bronze_parse import ParsedBatch
from paisa_assets.transforms.parallel_parse import parse_file_bytes

FAIL_MARK = "fail-here"  # a file whose name holds this makes the worker fail
PID_FOLDER = "PAISA_TEST_WORKER_PIDS"  # where `record_pid` leaves a file per worker


def exit_on_marked_file(
    data: bytes, path: str, columns: tuple[str, ...], max_rows: int, max_bytes: int
) -> list[ParsedBatch] | None:
    """The worker process dies (as the OOM killer would end it) on the marked file."""
    if FAIL_MARK in path:
        os._exit(3)
    return parse_file_bytes(data, path, columns, max_rows, max_bytes)


def raise_on_marked_file(
    data: bytes, path: str, columns: tuple[str, ...], max_rows: int, max_bytes: int
) -> list[ParsedBatch] | None:
    """The worker survives but the marked file fails (an allocation that could not be made)."""
    if FAIL_MARK in path:
        raise MemoryError("injected")
    return parse_file_bytes(data, path, columns, max_rows, max_bytes)


def record_pid(
    data: bytes, path: str, columns: tuple[str, ...], max_rows: int, max_bytes: int
) -> list[ParsedBatch] | None:
    """Parse as usual, leaving this worker's process id in the $PAISA_TEST_WORKER_PIDS folder."""
    (Path(os.environ[PID_FOLDER]) / str(os.getpid())).touch()
    return parse_file_bytes(data, path, columns, max_rows, max_bytes)
