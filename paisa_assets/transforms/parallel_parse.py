"""Parse several landing files at once on a process pool, handing the results back in file order.

Off by default since bronze decodes lines in native code (`bronze_native`); set
`PAISA_PARSE_WORKERS` to 2 or more to use it. Here a pool of worker processes
parses the next files while the caller writes the current one: the caller still sees every file,
in the order given, with exactly the batches `parse_json_lines` yields for it (the workers run
that same function), so the output is identical with or without the pool.

The pool is an optimisation only, never a new way to fail:
- the calling process reads each file's compressed bytes (any landing zone, local or ADLS) and
  sends them, so a worker needs no credentials and opens nothing;
- a file larger than `PARALLEL_MAX_FILE_BYTES`, one whose parse outgrows the worker's row or byte
  budget (a small gzip bomb of many short lines), one that could not be read ahead, and every file
  after the pool failed (a worker killed, `MemoryError`, a pickling error) is parsed here,
  streaming, exactly as without a pool;
- at most `workers + 1` files are read ahead, so memory stays bounded;
- workers are started with `spawn` (the caller has Dagster, delta-rs and DuckDB threads, which
  `fork` would copy mid-flight), import only this module, `bronze_parse`, orjson, pyarrow,
  Polars (`arrow_build`: never pandas) and DuckDB (`bronze_native`),
  ignore Ctrl-C (the caller decides) and exit on their own when the caller dies, even by SIGKILL.

This module must stay free of Dagster and deltalake: a spawned worker re-imports it, and each
of those would cost every worker a second or more of start-up.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol, TypeVar

from paisa_assets.transforms.bronze_parse import (
    ParsedBatch,
    is_supported,
    parse_json_lines,
    unopenable_file,
)

PARSE_WORKERS = "PAISA_PARSE_WORKERS"  # unset, 0 or 1: no pool
# Only files up to this size (compressed) go to the pool: their bytes sit in memory while queued.
PARALLEL_MAX_FILE_BYTES = 16 * 2**20
# Below this many compressed bytes to parse in all, starting the workers (more when the caller's
# __main__ is heavy, see `FileParser`) costs more than parsing on one core.
PARALLEL_MIN_BYTES = 8 * 2**20
# A worker gives a file back to the caller (which then streams it) past either bound, so a file
# that inflates to far more than its compressed size never sits whole in two processes' memory.
WORKER_MAX_ROWS = 500_000  # good rows plus quarantined lines
WORKER_MAX_BYTES = 128 * 2**20  # Arrow bytes of the parsed rows plus quarantined text

LOGGER = logging.getLogger(__name__)


class SourceFile(Protocol):
    """What the parser needs to know of a landing file (`LandingFile` is one)."""

    @property
    def path(self) -> str: ...

    @property
    def size(self) -> int: ...


F = TypeVar("F", bound=SourceFile)
ParseInWorker = Callable[[bytes, str, tuple[str, ...], int, int], list[ParsedBatch] | None]


def parse_file_bytes(
    data: bytes, path: str, columns: tuple[str, ...], max_rows: int, max_bytes: int
) -> list[ParsedBatch] | None:
    """Every batch `parse_json_lines` yields for these bytes, or None past the budget.

    Runs in a worker. None tells the caller to parse the file itself, streaming: a file whose
    rows would not fit the budget must not be held whole here and again in the caller.
    """
    batches: list[ParsedBatch] = []
    rows = size = 0
    for parsed in parse_json_lines(io.BytesIO(data), path, columns):
        batches.append(parsed)
        rows += parsed.rows.num_rows + len(parsed.quarantine)
        size += parsed.rows.nbytes + sum(len(raw or "") for _, raw, _ in parsed.quarantine)
        if rows > max_rows or size > max_bytes:
            return None
    return batches


def _exit_with_parent() -> None:
    """End this worker once the process that started it is gone (its pipe closes on any death,
    SIGKILL included): an orphan would keep the caller's stdout and stderr open forever."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
    os._exit(1)


def _start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the caller, which shuts us down
    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()


def default_workers() -> int:
    """`PAISA_PARSE_WORKERS` if set, else 0: the native path (`bronze_native`) decodes a
    million reviews in ~3 CPU-s in this process, less than two workers cost to start (~0.4 CPU-s
    each) plus their per-line fallbacks."""
    value = os.environ.get(PARSE_WORKERS, "").strip()
    if value:
        try:
            workers = int(value)
        except ValueError:
            workers = -1
        if workers < 0:
            raise ValueError(f"{PARSE_WORKERS} must be a whole number >= 0, got {value!r}")
        return workers
    return 0


class FileParser(AbstractContextManager["FileParser"]):
    """Parses landing files on a pool of worker processes when that pays, else in this process.

    One parser serves one bronze step (several commits): the workers start on the first file
    sent to them and stop when the parser is closed, which `with` does on every exit path. The
    pool starts only when `plan` was told of at least two files that fit it, together at least
    `min_bytes`: a sensor run of one small folder parses faster than workers start.

    Spawned workers re-import the caller's `__main__` unless it was run with `-m pkg` (as
    Dagster's run and step processes are): under a console script such as `paisa`, each worker
    also imports what that script imports, once.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        max_file_bytes: int = PARALLEL_MAX_FILE_BYTES,
        min_bytes: int = PARALLEL_MIN_BYTES,
        max_rows: int = WORKER_MAX_ROWS,
        max_bytes: int = WORKER_MAX_BYTES,
        parse_in_worker: ParseInWorker = parse_file_bytes,
        warn: Callable[[str], None] = LOGGER.warning,
    ) -> None:
        self.workers = default_workers() if workers is None else workers
        self.max_file_bytes = max_file_bytes
        self.min_bytes = min_bytes
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.parse_in_worker = parse_in_worker  # module-level, so that it pickles by name
        self.warn = warn
        self._enabled = False
        self._failed = False
        self._pool: ProcessPoolExecutor | None = None
        self.files_parsed_in_workers = 0  # for logs and tests
        self.files_parsed_here = 0

    def fits_pool(self, file: SourceFile) -> bool:
        """Small enough to send; an unsupported file is only quarantined, nothing to parse."""
        return file.size <= self.max_file_bytes and is_supported(file.path)

    def plan(self, files: Iterable[SourceFile]) -> bool:
        """Decide, from every file this parser will be given, whether workers are worth it."""
        fitting = [f.size for f in files if self.fits_pool(f)]
        self._enabled = (
            self.workers > 1
            and len(fitting) >= 2
            and sum(fitting) >= self.min_bytes
            and not self._failed
        )
        return self._enabled

    @property
    def parallel(self) -> bool:
        return self._enabled and not self._failed

    def parse(
        self,
        files: Sequence[F],
        open_file: Callable[[str], BinaryIO],
        columns: Sequence[str],
    ) -> Iterator[tuple[F, Iterable[ParsedBatch]]]:
        """Each file, in the order given, with its parsed batches (iterate them before the next
        file; a file parsed here is opened and streamed as they are iterated).

        Each call reads and parses afresh, so a retried commit that calls it again gets every
        row again. Closing the iterator early cancels the files not yet started.
        """
        names = tuple(columns)
        window: deque[tuple[F, Future[list[ParsedBatch] | None] | None]] = deque()
        upcoming = iter(files)
        try:
            while True:
                while len(window) < (self.workers + 1 if self.parallel else 1):
                    file = next(upcoming, None)
                    if file is None:
                        break
                    window.append((file, self._submit(file, open_file, names)))
                if not window:
                    return
                file, future = window.popleft()
                batches = self._result(file, future)
                if batches is None:
                    self.files_parsed_here += 1
                    yield file, self._parse_here(file, open_file, names)
                else:
                    self.files_parsed_in_workers += 1
                    yield file, batches
        finally:
            for _, future in window:
                if future is not None:
                    future.cancel()

    def close(self) -> None:
        """Stop the workers (waiting for a file being parsed: a budget bounds each)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _parse_here(
        self, file: SourceFile, open_file: Callable[[str], BinaryIO], columns: tuple[str, ...]
    ) -> Iterator[ParsedBatch]:
        try:
            stream = open_file(file.path)
        except (ConnectionError, TimeoutError):
            raise  # the store is unreachable, not this file unreadable: the run fails and retries
        except OSError as exc:
            yield unopenable_file(file.path, columns, exc)
            return
        with stream:
            yield from parse_json_lines(stream, file.path, columns)

    def _submit(
        self, file: SourceFile, open_file: Callable[[str], BinaryIO], columns: tuple[str, ...]
    ) -> Future[list[ParsedBatch] | None] | None:
        """The file's parse, started on a worker; None to parse it here when its turn comes
        (which also meets any error reading it at the same moment as without a pool)."""
        if not self.parallel or not self.fits_pool(file):
            return None
        try:
            with open_file(file.path) as stream:
                data = stream.read(self.max_file_bytes + 1)
        except Exception:
            return None
        if len(data) > self.max_file_bytes:  # grew since it was listed
            return None
        try:
            if self._pool is None:
                # A callable that cannot be sent fails here, before the pool sees it: handed to
                # the pool, its pickling error surfaces on the pool's feeder thread, where it
                # can leave the step waiting for a result that never comes.
                pickle.dumps(self.parse_in_worker)
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                )
            return self._pool.submit(
                self.parse_in_worker, data, file.path, columns, self.max_rows, self.max_bytes
            )
        except Exception as exc:
            self._give_up(file, exc)
            return None

    def _result(
        self, file: SourceFile, future: Future[list[ParsedBatch] | None] | None
    ) -> list[ParsedBatch] | None:
        if future is None or self._failed:
            return None
        try:
            return future.result()
        except Exception as exc:  # BrokenProcessPool, MemoryError, a pickling error...
            self._give_up(file, exc)
            return None

    def _give_up(self, file: SourceFile, exc: Exception) -> None:
        """Parse this file and every later one here: the pool is broken or cannot be trusted."""
        self._failed = True
        self.warn(
            f"parsing on {self.workers} worker processes failed at {file.path} "
            f"({type(exc).__name__}: {exc}); parsing the remaining files in this process"
        )
        self.close()
