"""Bronze parsed on worker processes writes exactly what it writes parsed in one process.

A differential test: one landing zone (generated, plus a folder of quirks: bad and non-object
lines, a truncated gzip, an unsupported file, empty files, unknown fields, a BOM, nesting too
deep to store) is ingested once without workers, as the reference, and again through each way
the pool can run or fail (files too big to send, row and byte budgets exceeded, a worker that
dies, one that raises, a function that cannot be pickled). Every bronze table, the quarantine
and the manifest must equal the reference, all columns but `_ingested_at`.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import psutil
import pytest

from paisa_assets.bronze_ingest import IngestOutcome, ingest_partitions
from paisa_assets.generator import generate_landing_zone
from paisa_assets.lake_views import read_view
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import (
    METADATA_DATASET,
    REVIEWS_DATASET,
    LandingFile,
    LocalLandingZone,
)
from paisa_assets.tables import (
    BRONZE_INGESTED_FILES,
    BRONZE_METADATA,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
)
from paisa_assets.transforms.bronze_parse import ParsedBatch, parse_json_lines
from paisa_assets.transforms.parallel_parse import PARSE_WORKERS, FileParser, default_workers
from paisa_assets.transforms.schemas import BRONZE_METADATA_COLUMNS, BRONZE_REVIEWS_COLUMNS
from paisa_assets_tests.conftest import review
from paisa_assets_tests.support.parse_faults import (
    FAIL_MARK,
    PID_FOLDER,
    exit_on_marked_file,
    raise_on_marked_file,
)

# One pytest-xdist worker runs this module: its tests share a module-scoped fixture.
pytestmark = pytest.mark.xdist_group("test_parallel_parse")

REPO = Path(__file__).resolve().parent.parent
DATASETS = [
    (REVIEWS_DATASET, BRONZE_REVIEWS, BRONZE_REVIEWS_COLUMNS),
    (METADATA_DATASET, BRONZE_METADATA, BRONZE_METADATA_COLUMNS),
]
TABLES = [BRONZE_REVIEWS, BRONZE_METADATA, BRONZE_QUARANTINE, BRONZE_INGESTED_FILES]
BIG_FILE_ROWS = 3_000
MANY_ROWS = 60_000


def gz(lines: list[bytes]) -> bytes:
    return gzip.compress(b"\n".join(lines) + b"\n", mtime=0)


def write_quirks(landing: Path) -> None:
    """A folder of every file and line the parser treats specially, beside generated data."""
    folder = landing / REVIEWS_DATASET / "partition_quirks"
    folder.mkdir(parents=True)
    good = [orjson.dumps(review(n)) for n in range(60)]
    too_deep = b'{"asin": "B1", "style": ' + b"[" * 300 + b"]" * 300 + b"}"
    bad = [
        b'{"asin": "B1", "overall": 5.0, "revi',  # cut short
        b"[1, 2]",
        b"42",
        b'"a string"',
        b"null",
        b"",
        b'{"asin": "A\xff\xfe"}',  # not UTF-8
        orjson.dumps({**review(900), "helpful_ratio": 0.5, "locale": {"lang": "en"}}),
        too_deep,
    ]
    (folder / "bad-lines.json.gz").write_bytes(gz(good[:20] + bad + good[20:40]))
    (folder / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(good[40:45]) + b"\r\n")
    truncated = gz(good * 20)
    (folder / "cut.json.gz").write_bytes(truncated[: len(truncated) // 2])
    (folder / "empty.json.gz").write_bytes(b"")
    (folder / "empty-member.json.gz").write_bytes(gzip.compress(b"", mtime=0))
    (folder / f"{FAIL_MARK}.json.gz").write_bytes(gz(good[45:50]))
    (folder / "notes.csv").write_bytes(b"asin,overall\nB1,5\n")
    (folder / "plain.ndjson").write_bytes(b"\n".join(good[50:55]))  # no final newline
    (folder / "two-members.json.gz").write_bytes(gz(good[55:57]) + gz(good[57:60]))
    big = [orjson.dumps(review(1_000 + n, summary=f"s{n}")) for n in range(BIG_FILE_ROWS)]
    (folder / "zz-big.json.gz").write_bytes(gz(big))
    # More lines than one parsed batch holds (50,000): the file comes back as several batches.
    many = [b'{"asin": "B%d", "overall": 5}' % (n % 7) for n in range(MANY_ROWS)]
    (folder / "zz-many.json.gz").write_bytes(gz(many))


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pool") / "landing"
    generate_landing_zone(
        root, reviews=2_000, review_partitions=3, metadata_partitions=2, seed=11, progress=False
    )
    write_quirks(root)
    return root


def ingest(landing: Path, lake: Path, parser: FileParser) -> tuple[dict[str, Any], list]:
    """Every folder of both datasets into a fresh lake: (table contents, outcomes)."""
    zone = LocalLandingZone(root=str(landing))
    lakehouse = Lakehouse(root=str(lake))
    outcomes: list[IngestOutcome] = []
    for dataset, table, columns in DATASETS:
        outcomes.append(
            ingest_partitions(
                zone,
                lakehouse,
                dataset=dataset,
                table=table,
                columns=columns,
                partitions=zone.list_partitions(dataset),
                parser=parser,
            )
        )
    contents = {}
    for table in TABLES:
        frame = read_view(lakehouse, table).drop("_ingested_at")
        key = [c for c in ("_source_file", "_line") if c in frame.columns]
        contents[table] = frame.sort([*key, *frame.columns], nulls_last=True)
    return contents, outcomes


@pytest.fixture(scope="module")
def reference(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list]:
    with FileParser(0) as parser:
        contents, outcomes = ingest(landing, tmp_path_factory.mktemp("reference"), parser)
        assert parser.files_parsed_in_workers == 0
    quarantine = contents[BRONZE_QUARANTINE]
    reasons = " | ".join(quarantine["reason"].to_list())
    for expected in (
        "invalid JSON",
        "not a JSON object: the line is a JSON array",
        "not a JSON object: the line is a JSON int",
        "invalid UTF-8",
        "nested deeper than bronze can store",
        "unsupported file type",
        "TruncatedFileError",
    ):
        assert expected in reasons  # the quirks are there to be compared
    rescued = contents[BRONZE_REVIEWS]["_rescued_data"].drop_nulls().to_list()
    assert '{"helpful_ratio":0.5,"locale":{"lang":"en"}}' in rescued
    return contents, outcomes


def assert_same(contents: dict[str, pl.DataFrame], reference: dict[str, pl.DataFrame]) -> None:
    for table in TABLES:
        assert contents[table].equals(reference[table]), table


# Each way the pool can run or fail: FileParser options, and how many files (of both datasets)
# must then be parsed in this process (None: some, and the pool must have failed).
UNSUPPORTED = 1  # notes.csv: quarantined as it is, never sent
PARALLEL: dict[str, tuple[dict[str, Any], Callable[[pl.DataFrame], int] | None]] = {
    "pool": ({}, lambda manifest: UNSUPPORTED),
    # Files over 4 kB compressed are streamed here; the small ones go to the workers.
    "big files here": (
        {"max_file_bytes": 4_000},
        lambda manifest: UNSUPPORTED + manifest.filter(pl.col("size") > 4_000).height,
    ),
    # The worker gives back every file of more than 1,000 lines, to be streamed here.
    "row budget": (
        {"max_rows": 1_000},
        lambda manifest: (
            UNSUPPORTED + manifest.filter(pl.col("rows") + pl.col("quarantined") > 1_000).height
        ),
    ),
    # The worker gives back every file of more than 100 kB of parsed text.
    "byte budget": ({"max_bytes": 100_000}, None),
    # The pool breaks: the file it broke on and every file after it are parsed here.
    "worker exits": ({"parse_in_worker": exit_on_marked_file}, None),
    "worker raises": ({"parse_in_worker": raise_on_marked_file}, None),
    "cannot pickle": ({"parse_in_worker": lambda *args: None}, None),
}
FAILURES = {
    "worker exits": "BrokenProcessPool",
    "worker raises": f"{FAIL_MARK}.json.gz (MemoryError: injected)",
    "cannot pickle": "PicklingError",
}


@pytest.mark.parametrize(
    "case",
    # The pool's failures belong to the fault-injection suite too (`pytest -m reliability`).
    [pytest.param(c, marks=pytest.mark.reliability) if c in FAILURES else c for c in PARALLEL],
)
def test_the_pool_writes_exactly_what_one_process_writes(
    case: str, landing: Path, reference: tuple[dict, list], tmp_path: Path
) -> None:
    options, parsed_here = PARALLEL[case]
    warnings: list[str] = []
    with FileParser(2, min_bytes=0, warn=warnings.append, **options) as parser:
        contents, outcomes = ingest(landing, tmp_path / "lake", parser)
    assert_same(contents, reference[0])
    assert outcomes == reference[1]
    assert parser.files_parsed_in_workers > 0 or case == "cannot pickle"
    if parsed_here is not None:
        assert parser.files_parsed_here == parsed_here(reference[0][BRONZE_INGESTED_FILES])
    else:
        assert parser.files_parsed_here > UNSUPPORTED
    if case in FAILURES:
        (warning,) = warnings
        assert FAILURES[case] in warning, warning
        assert warning.endswith("parsing the remaining files in this process")
    else:
        assert warnings == []


def test_files_come_back_in_order_and_every_iteration_reads_them_again(landing: Path) -> None:
    """A commit conflict makes delta-rs read the stream again: the second pass, after a first one
    abandoned after two files, yields every file again, in order, with the same rows."""
    zone = LocalLandingZone(root=str(landing))
    files = zone.list_files(REVIEWS_DATASET)

    def rows(parsed: Iterable[ParsedBatch]) -> list[tuple]:
        return [(batch.rows.to_pylist(), batch.quarantine) for batch in parsed]

    expected = []
    for file in files:
        with zone.open(file.path) as stream:
            expected.append(rows(parse_json_lines(stream, file.path, BRONZE_REVIEWS_COLUMNS)))
    with FileParser(2, min_bytes=0) as parser:
        assert parser.plan(files)
        first = parser.parse(files, zone.open, BRONZE_REVIEWS_COLUMNS)
        for _ in range(2):
            next(first)
        first.close()  # the files read ahead are cancelled or dropped
        again = parser.parse(files, zone.open, BRONZE_REVIEWS_COLUMNS)
        seen = [(file, rows(batches)) for file, batches in again]
        assert parser.files_parsed_here == UNSUPPORTED
    assert [f for f, _ in seen] == files
    assert [r for _, r in seen] == expected


def test_a_file_that_fails_to_read_ahead_is_quarantined_at_its_turn_as_without_a_pool(
    tmp_path: Path,
) -> None:
    """Reading ahead never raises: a file gone since the listing is opened at its turn, where
    it becomes one quarantine entry, and the files after it are still parsed."""
    for n in range(3):
        (tmp_path / f"part-{n}.json").write_bytes(orjson.dumps(review(n)))
    files = [LandingFile(f"part-{n}.json", 20, "0") for n in range(3)]
    (tmp_path / "part-1.json").unlink()

    def open_file(path: str) -> io.BufferedReader:
        return (tmp_path / path).open("rb")

    handed: list[tuple[str, int, list[str]]] = []
    with FileParser(2, min_bytes=0) as parser:
        parser.plan(files)
        for file, batches in parser.parse(files, open_file, ["asin"]):
            parsed = list(batches)
            reasons = [reason for b in parsed for _, _, reason in b.quarantine]
            handed.append((file.path, sum(b.rows.num_rows for b in parsed), reasons))
    assert handed == [
        ("part-0.json", 1, []),
        ("part-1.json", 0, ["unreadable file: it vanished after it was listed (deleted or moved)"]),
        ("part-2.json", 1, []),
    ]


def test_workers_start_only_when_there_is_enough_to_parse() -> None:
    small = [LandingFile(f"a/p/{n}.json.gz", 2**20, "0") for n in range(3)]
    assert not FileParser(2).plan(small[:1])  # a single file: nothing to share
    assert not FileParser(2).plan(small)  # 3 MiB: parsed before two workers would start
    assert FileParser(2, min_bytes=2**20).plan(small)
    assert not FileParser(1, min_bytes=0).plan(small)  # one worker gains nothing
    assert not FileParser(0, min_bytes=0).plan(small)
    big = [LandingFile(f"a/p/{n}.json.gz", 2**30, "0") for n in range(3)]
    assert not FileParser(2, min_bytes=0).plan(big)  # each too big to send
    csv = [LandingFile(f"a/p/{n}.csv", 2**20, "0") for n in range(3)]
    assert not FileParser(2, min_bytes=0).plan(csv)  # nothing to parse


def test_worker_count_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARSE_WORKERS, "0")
    assert default_workers() == 0
    monkeypatch.setenv(PARSE_WORKERS, "3")
    assert default_workers() == 3
    monkeypatch.setenv(PARSE_WORKERS, "two")
    with pytest.raises(ValueError, match=PARSE_WORKERS):
        default_workers()
    monkeypatch.delenv(PARSE_WORKERS)
    assert default_workers() == 0  # the native decode needs no pool


def test_a_worker_imports_neither_dagster_nor_deltalake_nor_pandas() -> None:
    """A spawned worker imports the module of its function: it must stay light. Polars and
    DuckDB are allowed (they decode the lines), pandas is not: pyarrow's conversion of Python
    values would import it (0.3 s) on the first batch, so a file is parsed too."""
    code = (
        "import sys, gzip, paisa_assets.transforms.parallel_parse as pp\n"
        'data = gzip.compress(b\'{"asin": "a", "overall": 5.0}\\nnot json\\n\')\n'
        "batches = pp.parse_file_bytes(data, 'p/x.json.gz', ('asin', 'overall'), 100, 2**20)\n"
        "assert batches[0].rows.num_rows == 1 and len(batches[0].quarantine) == 1\n"
        "heavy = {'dagster', 'deltalake', 'pandas'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "[]"


CRASH_SCRIPT = """
import sys
from paisa_assets.bronze_ingest import ingest_partitions
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import LocalLandingZone
from paisa_assets.transforms.parallel_parse import FileParser
from paisa_assets.transforms.schemas import BRONZE_REVIEWS_COLUMNS
from paisa_assets_tests.support.parse_faults import record_pid

zone = LocalLandingZone(root=sys.argv[1])
with FileParser(2, min_bytes=0, parse_in_worker=record_pid) as parser:
    ingest_partitions(
        zone,
        Lakehouse(root=sys.argv[2]),
        dataset="amazon_reviews",
        table="bronze.amazon_reviews",
        columns=BRONZE_REVIEWS_COLUMNS,
        partitions=zone.list_partitions("amazon_reviews"),
        parser=parser,
    )
"""


@pytest.mark.reliability
def test_a_killed_step_leaves_no_worker_behind_and_the_rerun_is_exact(
    landing: Path, reference: tuple[dict, list], tmp_path: Path
) -> None:
    """SIGKILL of the step mid-write: the workers exit on their own (an orphan would hold the
    step's stdout and stderr open, so this `subprocess.run` would never return), and a re-run
    leaves every table exactly as an uninterrupted ingestion."""
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {
        **os.environ,
        "PAISA_CRASH_AT": "bronze.during_write:bronze.amazon_reviews#3",
        PID_FOLDER: str(pids),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(landing), str(tmp_path / "lake")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -9, done.stderr[-3000:]
    assert "paisa fault injection: SIGKILL at bronze.during_write" in done.stderr
    workers = [int(p.name) for p in pids.iterdir()]
    assert workers
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)

    with FileParser(2, min_bytes=0) as parser:
        contents, _ = ingest(landing, tmp_path / "lake", parser)
    assert_same(contents, reference[0])


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
