"""Hostile input, all in one landing zone and one event log: every bad file, line, value, name
and event body is quarantined (or skipped) with a clear reason, and every good row beside it
lands exactly once. The lake is built the way the daemon would build it: a landing-zone sensor
tick, the runs it requests, then the streaming run and gold (`materialize_all`, which also
requires every asset check to pass)."""

from __future__ import annotations

import gzip
import io
import json
import os
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import polars as pl
import pytest
from dagster import DagsterInstance, SensorResult, SkipReason

from paisa_assets.generator.stream import generated_payloads
from paisa_assets.lake_views import read_view
from paisa_assets.resources.landing_zone import LocalLandingZone
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.sensors import plan_landing_runs
from paisa_assets.tables import (
    BRONZE_INGESTED_FILES,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_STREAMING,
    GOLD_REVIEWS_ENRICHED,
    SILVER_QUARANTINE,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets.transforms.bronze_parse import MAX_LINE_BYTES, parse_json_lines
from paisa_assets.transforms.schemas import BRONZE_REVIEWS_COLUMNS as COLUMNS
from paisa_assets_tests.conftest import Workspace, make_workspace, materialize_all, product, review
from paisa_assets_tests.support.landing import run_requests, skipped, tick

# One pytest-xdist worker runs this module: its tests share a module-scoped fixture.
pytestmark = [pytest.mark.reliability, pytest.mark.xdist_group("reliability.test_hostile_input")]

TEN_MB = 10 * 2**20
GOOD = "amazon_reviews/partition_0"
INJECTION = "partition_1' OR '1'='1"
SPACED = "with space"
DOTS = "a...b"  # '...' cannot be in a Dagster partition key
QUOTED_FILE = """it's "quoted" & spaced.json.gz"""


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"d": value}
    return value


def truncated_gzip(records: list[dict]) -> tuple[bytes, int]:
    """A gzip file cut in the middle, and how many complete lines it still holds."""
    whole = gzip.compress(b"\n".join(orjson.dumps(r) for r in records) + b"\n", mtime=0)
    cut = whole[: len(whole) // 2]
    inflated = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(cut)
    return cut, inflated.count(b"\n")


@dataclass
class Hostile:
    workspace: Workspace
    instance: DagsterInstance
    first_tick: SensorResult
    second_tick: SensorResult | SkipReason
    truncated_lines: int
    outside: Path

    @property
    def lake(self):
        return self.workspace.lakehouse

    def bronze_quarantine(self, dataset: str = "amazon_reviews") -> dict[str, tuple]:
        """File name -> (line, reason) of every bronze quarantine row of the dataset."""
        rows = read_view(self.lake, BRONZE_QUARANTINE, where=pl.col("dataset") == dataset)
        return {
            r["_source_file"].rsplit("/", 1)[-1]: (r["_line"], r["reason"], r["raw"])
            for r in rows.to_dicts()
        }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    root = tmp_path_factory.mktemp("hostile")
    workspace = make_workspace(root)
    write = workspace.write_landing_file
    landing = workspace.landing_root

    write(f"{GOOD}/valid.json.gz", [review(n) for n in range(1, 6)])
    write(
        f"{GOOD}/types.json.gz",
        [
            review(10, overall="five"),
            review(11, vote={"n": 1}),
            review(12, helpful_ratio=0.5, locale={"lang": "en"}),  # schema drift
            review(13, style=nested(100)),  # nested, within every parser's limit
        ],
    )
    (landing / GOOD / "corrupt.json.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip" * 50)
    cut, truncated_lines = truncated_gzip([review(n, reviewText="t" * 500) for n in range(20, 60)])
    (landing / GOOD / "truncated.json.gz").write_bytes(cut)
    (landing / GOOD / "empty.json.gz").write_bytes(b"")
    (landing / GOOD / "empty-member.json.gz").write_bytes(gzip.compress(b"", mtime=0))
    (landing / GOOD / "latin1.json").write_bytes(
        orjson.dumps(review(60, reviewerName="X")).replace(b'"X"', b'"Jos\xe9"')
        + b"\n"
        + orjson.dumps(review(61))
        + b"\n"
    )
    write(f"{GOOD}/huge-line.json.gz", [review(70, reviewText="x" * TEN_MB), review(71)])
    write(f"{GOOD}/garbage-line.json.gz", [review(72)], raw_lines=(b"y" * TEN_MB,))
    write(
        f"{GOOD}/deep.json.gz",
        [review(80)],
        raw_lines=(b'{"asin": "B1", "style": ' + b"[" * 5000 + b"]" * 5000 + b"}",),
    )
    write(f"{GOOD}/{QUOTED_FILE}", [review(90), review(91)])
    write(f"{GOOD}/asin-number.json.gz", [review(130, asin=123), review(131)])
    (landing / GOOD / "utf16.json").write_bytes(
        (json.dumps(review(140)) + "\n").encode("utf-16")  # with a byte order mark
    )
    write(f"amazon_reviews/{INJECTION}/part-0.json.gz", [review(n) for n in range(100, 103)])
    write(f"amazon_reviews/{SPACED}/part 0.json.gz", [review(n) for n in range(110, 112)])
    write(f"amazon_reviews/{DOTS}/part-0.json.gz", [review(120)])
    write("amazon_metadata/partition_0/part-0.json.gz", [product(n) for n in range(7)])
    # Symbolic links that lead out of the landing root: a folder and a file.
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.json").write_bytes(orjson.dumps(review(999)) + b"\n")
    os.symlink(outside, landing / "amazon_reviews" / "linked_folder")
    os.symlink(outside / "secret.json", landing / GOOD / "linked.json")

    with DagsterInstance.ephemeral() as instance:
        first = tick(workspace, instance)
        run_requests(workspace, instance, first)
        second = tick(workspace, instance, first.cursor)
        LocalEventLog(root=str(root / "events")).publish(
            [b"not json at all", b"\xff\xfe\x00", b"[1, 2]", *generated_payloads(2, seed=3)],
            partition_key="one",
        )
        materialize_all(instance, workspace)
        yield Hostile(workspace, instance, first, second, truncated_lines, outside)


GOOD_FILES_ROWS = {
    "valid.json.gz": 5,
    "types.json.gz": 4,
    "latin1.json": 1,
    "huge-line.json.gz": 2,
    "garbage-line.json.gz": 1,
    "deep.json.gz": 1,
    QUOTED_FILE: 2,
    "asin-number.json.gz": 1,
    "utf16.json": 0,
    "empty.json.gz": 0,
    "empty-member.json.gz": 0,
}


def test_the_sensor_adds_good_folders_and_skips_a_name_dagster_cannot_take(
    hostile: Hostile,
) -> None:
    added = {
        request.partitions_def_name: sorted(request.partition_keys)
        for request in hostile.first_tick.dynamic_partitions_requests
    }
    assert added == {
        "amazon_metadata_folders": ["partition_0"],
        "amazon_reviews_folders": ["partition_0", INJECTION, SPACED],
    }
    assert DOTS not in hostile.instance.get_dynamic_partitions("amazon_reviews_folders")
    assert "linked_folder" not in hostile.instance.get_dynamic_partitions("amazon_reviews_folders")
    # The skipped folder is reported once, with its reason, and then remembered.
    plan = plan_landing_runs(
        {"amazon_reviews": hostile.workspace.landing.list_files("amazon_reviews")}, {}, {}, {}
    )
    assert plan.rejected == {
        "amazon_reviews": {
            DOTS: "its name holds '...' (it separates the two ends of a partition range), which "
            "a Dagster partition key cannot hold; rename the folder to ingest it"
        }
    }
    assert skipped(hostile.second_tick)
    assert hostile.lake.count(BRONZE_REVIEWS, pl.col("_partition") == DOTS) == 0


def test_names_with_quotes_and_spaces_land_and_never_widen_a_predicate(hostile: Hostile) -> None:
    bronze = hostile.lake.read(BRONZE_REVIEWS)
    per_partition = dict(bronze.group_by("_partition").len().iter_rows())
    truncated = hostile.truncated_lines
    assert per_partition == {
        "partition_0": sum(GOOD_FILES_ROWS.values()) + truncated,
        INJECTION: 3,  # ingested after partition_0 with a quote in its predicate: nothing wider
        SPACED: 2,
    }
    files = bronze.filter(pl.col("_partition") == "partition_0").group_by("_source_file").len()
    assert dict(files.iter_rows())[f"{GOOD}/{QUOTED_FILE}"] == 2
    # Re-ingesting the quoted file (it changed) replaces exactly its own two rows.
    path = hostile.workspace.landing_root / GOOD / QUOTED_FILE
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    job = hostile.workspace.defs.resolve_job_def("reviews_ingest_job")
    for partition in ("partition_0", INJECTION):
        assert job.execute_in_process(instance=hostile.instance, partition_key=partition).success
    assert hostile.lake.read(BRONZE_REVIEWS).height == bronze.height


def test_dot_dot_never_leaves_the_landing_root(hostile: Hostile) -> None:
    landing: LocalLandingZone = hostile.workspace.landing
    for folder in ("..", ".", "../amazon_metadata", "a/b"):
        with pytest.raises(ValueError, match="is not a landing folder name"):
            landing.list_files("amazon_reviews", folder)
    with pytest.raises(ValueError, match="escapes the landing root"):
        landing.open("amazon_reviews/../../outside/secret.json")
    # A partition typed by hand ('..') fails its run with that message, ingesting nothing.
    hostile.instance.add_dynamic_partitions("amazon_reviews_folders", [".."])
    job = hostile.workspace.defs.resolve_job_def("reviews_ingest_job")
    before = hostile.lake.count(BRONZE_REVIEWS)
    result = job.execute_in_process(
        instance=hostile.instance, partition_key="..", raise_on_error=False
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "ValueError: '..' is not a landing folder name" in failure.to_string()
    assert hostile.lake.count(BRONZE_REVIEWS) == before
    hostile.instance.delete_dynamic_partition("amazon_reviews_folders", "..")
    # Symbolic links out of the root are skipped: the file behind them never lands.
    listed = {f.path.rsplit("/", 1)[-1] for f in landing.list_files("amazon_reviews")}
    assert "linked.json" not in listed and "secret.json" not in listed
    outsider = pl.col("reviewerID") == review(999)["reviewerID"]
    assert hostile.lake.count(SILVER_REVIEWS, outsider) == 0


def test_bad_files_and_lines_are_quarantined_with_their_reason(hostile: Hostile) -> None:
    quarantine = hostile.bronze_quarantine()
    reasons = {name: (line, reason) for name, (line, reason, _) in quarantine.items()}
    assert reasons == {
        "corrupt.json.gz": (
            None,
            "unreadable file from its start: error: Error -3 while decompressing data: "
            "invalid code lengths set",
        ),
        "truncated.json.gz": (
            None,
            f"unreadable file after line {hostile.truncated_lines}: TruncatedFileError: "
            "compressed data ended before the end-of-stream marker",
        ),
        "latin1.json": (1, "invalid UTF-8 at byte 70"),
        "garbage-line.json.gz": (
            2,
            "invalid JSON: unexpected character, expected a JSON value: line 1 column 1 (char 0)",
        ),
        "deep.json.gz": (2, "invalid JSON: depth limit exceeded: line 1 column 1049 (char 1048)"),
        "asin-number.json.gz": (1, "asin is not a JSON string: a JSON number"),
        "utf16.json": (
            None,
            "unreadable file from its start: the file is UTF-16-LE (byte order mark); landing "
            "files must be UTF-8 JSON lines (convert with: iconv -f UTF-16-LE -t UTF-8)",
        ),
    }
    # The quarantined copy of a 10 MB line is its start, saying how much more there was.
    raw = quarantine["garbage-line.json.gz"][2]
    assert raw == "y" * 10_000 + f"... [{TEN_MB - 10_000} more characters]"
    assert quarantine["latin1.json"][2].startswith('{"asin":"B000000004","reviewerID":')
    assert "Jos\\xe9" in quarantine["latin1.json"][2]


def test_empty_files_are_recorded_with_no_rows_and_no_quarantine(hostile: Hostile) -> None:
    manifest = read_view(
        hostile.lake, BRONZE_INGESTED_FILES, where=pl.col("dataset") == "amazon_reviews"
    )
    rows = {
        r["_source_file"].rsplit("/", 1)[-1]: (r["rows"], r["quarantined"])
        for r in manifest.to_dicts()
    }
    assert rows["empty.json.gz"] == (0, 0)
    assert rows["empty-member.json.gz"] == (0, 0)
    assert rows["corrupt.json.gz"] == (0, 1)
    assert rows["truncated.json.gz"] == (hostile.truncated_lines, 1)
    assert rows["huge-line.json.gz"] == (2, 0)
    assert {name: rows[name][0] for name in GOOD_FILES_ROWS} == GOOD_FILES_ROWS


def test_wrong_types_are_quarantined_in_silver_and_new_fields_rescued(hostile: Hostile) -> None:
    quarantine = read_view(
        hostile.lake, SILVER_QUARANTINE, where=pl.col("dataset") == "amazon_reviews"
    )
    assert sorted(quarantine.select("_line", "reason").rows()) == [
        (1, "overall is not a number: five"),
        (2, 'vote is not an integer: {"n":1}'),
    ]
    silver = hostile.lake.read(SILVER_REVIEWS)
    drifted = silver.filter(pl.col("reviewerID") == review(12)["reviewerID"])
    assert json.loads(drifted["_rescued_data"].item()) == {
        "helpful_ratio": 0.5,
        "locale": {"lang": "en"},
    }
    deep = silver.filter(pl.col("reviewerID") == review(13)["reviewerID"])
    assert json.loads(deep["style"].item()) == nested(100)


def test_a_10_mb_review_lands_whole_and_every_good_row_is_there_once(hostile: Hostile) -> None:
    silver = hostile.lake.read(SILVER_REVIEWS)
    huge = silver.filter(pl.col("reviewerID") == review(70)["reviewerID"])
    assert huge["reviewText"].str.len_bytes().to_list() == [TEN_MB]
    bronze_rows = hostile.lake.count(BRONZE_REVIEWS)
    assert silver.height == bronze_rows - 2  # all but the two ill-typed rows
    assert silver["review_id"].n_unique() == silver.height
    gold = hostile.lake.read(GOLD_REVIEWS_ENRICHED, columns=["review_id", "source"])
    assert gold.filter(pl.col("source") == "batch").height == silver.height


def test_event_bodies_that_are_not_json_are_quarantined(hostile: Hostile) -> None:
    quarantine = read_view(
        hostile.lake, BRONZE_QUARANTINE, where=pl.col("dataset") == "eh_streaming"
    )
    assert sorted(quarantine.select("_line", "reason").rows()) == [
        (0, "body is not valid JSON: invalid literal, expected 'null': line 1 column 1 (char 0)"),
        (1, "body is not valid UTF-8"),
        (2, "body is not a JSON object but a JSON list"),
    ]
    assert hostile.lake.count(BRONZE_REVIEWS_STREAMING) == 2
    assert hostile.lake.count(SILVER_REVIEWS_STREAMING) == 2


def parse(payload: bytes, name: str = "f.json.gz", **limits: int) -> tuple[int, list]:
    batches = list(
        parse_json_lines(io.BytesIO(payload), f"amazon_reviews/p/{name}", COLUMNS, **limits)
    )
    return sum(b.rows.num_rows for b in batches), [q for b in batches for q in b.quarantine]


def test_a_line_over_the_limit_is_quarantined_unread_and_the_next_line_lands() -> None:
    payload = gzip.compress(b"z" * 3_000_000 + b"\n" + orjson.dumps(review(1)) + b"\n")
    rows, quarantine = parse(payload, max_line_bytes=2**20)
    assert rows == 1
    assert quarantine == [
        (
            1,
            "z" * 10_000 + "... [3,000,000 bytes]",
            "line of 3,000,000 bytes exceeds the 1,048,576-byte limit",
        )
    ]


def test_a_gzip_bomb_inflates_in_bounded_memory_and_time() -> None:
    """200 MiB of one byte, no newline, in a 200 KB gzip file: inflated a chunk at a time and
    dropped past the line limit, instead of 200 MiB at once and a quadratic line search."""
    bomb = gzip.compress(b"\0" * 200 * 2**20, compresslevel=9)
    tracemalloc.start()
    started = time.monotonic()
    try:
        rows, quarantine = parse(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 20
    assert peak < MAX_LINE_BYTES + 8 * 2**20  # the longest line kept, not the whole 200 MiB
    assert rows == 0
    assert [q[2] for q in quarantine] == [
        "line of 209,715,200 bytes exceeds the 67,108,864-byte limit"
    ]


def test_a_byte_order_mark_does_not_cost_the_first_line() -> None:
    rows, quarantine = parse(b"\xef\xbb\xbf" + orjson.dumps(review(1)) + b"\n", "bom.json")
    assert (rows, quarantine) == (1, [])
