"""Turn the plan of one landing folder into its gzip JSON-lines files.

Runs in worker processes: the task carries only plain numpy arrays and ints, and the output
depends only on them (no shared random state), so any number of workers writes the same bytes.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from paisa_assets.generator.plan import MALFORMED
from paisa_assets.generator.records import asin_of, malformed_line, product_record, review_record

EMPTY_FILE_SHARE = 0.2
COMPRESSLEVEL = 5


@dataclass
class FolderTask:
    """Everything needed to write one folder; `columns` are per-line arrays."""

    directory: Path
    dataset: str  # "reviews" or "metadata"
    seed: int
    columns: dict[str, np.ndarray]


@dataclass
class FolderResult:
    files: int
    empty_files: int
    lines: int
    malformed_lines: int


def _file_name(rng: np.random.Generator, index: int) -> str:
    tid = int(rng.integers(10**18, 10**19 - 1, dtype=np.uint64))
    uuid = rng.bytes(16).hex()
    uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
    return f"part-{index:05d}-tid-{tid}-{uuid}-{int(rng.integers(1, 9999))}-c000.json.gz"


def _line(task: FolderTask, row: int) -> bytes:
    c = task.columns
    kind = int(c["kind"][row])
    if task.dataset == "reviews":
        record = review_record(
            user=int(c["user"][row]),
            product=int(c["product"][row]),
            product_seed=int(c["product_seed"][row]),
            category=int(c["category"][row]),
            rating=int(c["rating"][row]),
            time=int(c["time"][row]),
            seed=int(c["seed"][row]),
            noisy=bool(c["noisy"][row]),
            kind=kind,
        )
    else:
        count = int(c["related_count"][row])
        related = [
            asin_of(int(product), int(seed))
            for product, seed in zip(
                c["related_product"][row][:count], c["related_seed"][row][:count], strict=True
            )
        ]
        record = product_record(
            product=int(c["product"][row]),
            seed=int(c["seed"][row]),
            category=int(c["category"][row]),
            related=related,
            kind=kind,
        )
    if kind == MALFORMED:
        return malformed_line(int(c["seed"][row]), record)
    return orjson.dumps(record)


def write_folder(task: FolderTask) -> FolderResult:
    rng = np.random.default_rng(task.seed)
    rows = rng.permutation(task.columns["kind"].size)
    file_count = 1 + int(rng.integers(0, 3))
    empty = rng.random(file_count) < EMPTY_FILE_SHARE
    if rows.size and empty.all():
        empty[int(rng.integers(0, file_count))] = False
    chunks = iter(np.array_split(rows, max(1, int((~empty).sum()))))
    task.directory.mkdir(parents=True, exist_ok=True)
    malformed = 0
    for index, is_empty in enumerate(empty):
        chosen = np.empty(0, dtype=np.int64) if is_empty else next(chunks)
        lines = [_line(task, int(row)) for row in chosen]
        malformed += int((task.columns["kind"][chosen] == MALFORMED).sum())
        payload = b"\n".join(lines) + (b"\n" if lines else b"")
        path = task.directory / _file_name(rng, index)
        with (
            path.open("wb") as raw,
            gzip.GzipFile(
                fileobj=raw, mode="wb", compresslevel=COMPRESSLEVEL, mtime=0, filename=""
            ) as out,
        ):
            out.write(payload)
    return FolderResult(file_count, int(empty.sum()), int(rows.size), malformed)
