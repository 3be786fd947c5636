"""Streaming through the local event log and a real Dagster instance: the Event Hubs sensor,
exactly-once bronze and silver stream tables, quarantine, and stream reviews in gold."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, SkipReason, build_asset_check_context
from deltalake import DeltaTable

from paisa_assets.checks_stream import eh_streaming_reconciles_with_hub
from paisa_assets.events import SequenceRange, StreamEvent
from paisa_assets.generator.stream import generated_payloads
from paisa_assets.lake_views import count_view, read_view
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS_STREAMING,
    GOLD_KPIS,
    GOLD_REVIEWS_ENRICHED,
    SILVER_QUARANTINE,
    SILVER_REVIEWS_STREAMING,
    SILVER_STREAM_DECIDED,
)
from paisa_assets.transforms.bronze_parse import UNSTORABLE_NESTING
from paisa_assets_tests.support.stream import SHARED_EVENTS, Stream, ranges_of


@pytest.fixture
def stream(tmp_path: Path) -> Stream:
    log = LocalEventLog(root=str(tmp_path / "events"), hub="reviews", partitions=4)
    with DagsterInstance.ephemeral() as instance:
        yield Stream(tmp_path, instance, log)


def test_publish_tick_run_gives_exact_rows_in_bronze_silver_and_gold(stream: Stream) -> None:
    stream.log.publish(generated_payloads(40, seed=1))
    first = stream.tick()
    assert ranges_of(first) == [("0", 0, 9), ("1", 0, 9), ("2", 0, 9), ("3", 0, 9)]
    stream.run(first)
    assert stream.lake.count(BRONZE_EH_STREAMING) == 40
    assert stream.lake.count(BRONZE_REVIEWS_STREAMING) == 40
    silver = stream.lake.read(SILVER_REVIEWS_STREAMING)
    assert silver.height == 40
    assert (silver["review_date"] == silver["enqueued_time"].dt.date()).all()
    assert silver["processed_at"].null_count() == 0
    stream.gold()
    gold = stream.lake.read(GOLD_REVIEWS_ENRICHED)
    assert gold.height == 40 and set(gold["source"]) == {"stream"}
    assert stream.lake.read(GOLD_KPIS).select("reviews", "stream_reviews").row(0) == (40, 40)
    assert isinstance(stream.tick(), SkipReason)


def test_offsets_and_sequence_numbers_overlap_across_partitions_and_nothing_collides(
    stream: Stream,
) -> None:
    stream.log.publish(generated_payloads(12, seed=2))
    stream.run(stream.tick())
    bronze = stream.lake.read(BRONZE_EH_STREAMING)
    assert bronze.height == 12
    per_key = bronze.group_by("sequence_number", "offset").len()
    assert per_key["len"].max() == 4  # the same (sequence, offset) in all four partitions
    assert bronze.select(pl.struct("partition_id", "sequence_number").n_unique()).item() == 12


@pytest.mark.reliability
def test_a_reset_cursor_and_a_lost_cursor_update_lose_and_double_nothing(stream: Stream) -> None:
    stream.log.publish(generated_payloads(20, seed=3))
    stale_cursor = stream.cursor
    stream.run(stream.tick())
    # The run committed but the sensor's cursor was never updated (a crash in between):
    assert isinstance(stream.tick(cursor=stale_cursor or "{}"), SkipReason)
    # A reset cursor: the tables say everything is there.
    assert isinstance(stream.tick(cursor="{}"), SkipReason)
    stream.log.publish(generated_payloads(8, seed=4))
    after_reset = stream.tick(cursor="{}")
    assert ranges_of(after_reset) == [("0", 5, 6), ("1", 5, 6), ("2", 5, 6), ("3", 5, 6)]
    stream.run(after_reset)
    assert stream.lake.count(BRONZE_EH_STREAMING) == 28
    assert stream.lake.count(SILVER_REVIEWS_STREAMING) == 28


@pytest.mark.reliability
def test_a_retried_run_changes_no_table(stream: Stream) -> None:
    stream.log.publish(generated_payloads(16, seed=5))
    config = stream.run(stream.tick())
    before = stream.versions()
    stream.rerun(config)
    assert stream.versions() == before
    assert stream.lake.count(BRONZE_EH_STREAMING) == 16


@pytest.mark.reliability
def test_a_failed_range_is_requested_again_when_nothing_is_in_flight(stream: Stream) -> None:
    stream.log.publish(generated_payloads(8, seed=6))
    requested = stream.tick()  # ...and the run never happens (failed and given up)
    assert ranges_of(requested) == [("0", 0, 1), ("1", 0, 1), ("2", 0, 1), ("3", 0, 1)]
    stream.log.publish(generated_payloads(4, seed=7))
    again = stream.tick()
    assert ranges_of(again) == [("0", 0, 2), ("1", 0, 2), ("2", 0, 2), ("3", 0, 2)]


class DuplicatingLog(LocalEventLog):
    """Delivers every event twice, as Event Hubs may after a reconnect (at-least-once)."""

    def read(self, wanted: SequenceRange, timeout_seconds: float = 30.0) -> list[StreamEvent]:
        events = super().read(wanted, timeout_seconds)
        return [event for event in events for _ in range(2)]


@pytest.mark.reliability
def test_duplicate_delivery_is_ingested_once(tmp_path: Path) -> None:
    log = DuplicatingLog(root=str(tmp_path / "events"), hub="reviews", partitions=2)
    with DagsterInstance.ephemeral() as instance:
        stream = Stream(tmp_path, instance, log)
        log.publish(generated_payloads(10, seed=8))
        stream.run(stream.tick())
    assert stream.lake.count(BRONZE_EH_STREAMING) == 10
    assert stream.lake.count(SILVER_REVIEWS_STREAMING) == 10


def test_the_same_review_sent_twice_is_one_silver_row(stream: Stream) -> None:
    payload = generated_payloads(1, seed=9)[0]
    stream.log.publish([payload, payload, payload])
    stream.run(stream.tick())
    assert stream.lake.count(BRONZE_EH_STREAMING) == 3
    silver = stream.lake.read(SILVER_REVIEWS_STREAMING)
    assert silver.height == 1
    assert silver.select("partition_id", "sequence_number").row(0) == ("0", 0)


def test_malformed_bodies_are_quarantined_with_their_reason(stream: Stream) -> None:
    good = generated_payloads(2, seed=10)
    bad_type = orjson.loads(good[0]) | {"overall": "five", "reviewerID": "AOTHER"}
    bodies = [
        b"not json at all",
        b'{"asin": "B000000001"}',
        b"[1, 2, 3]",
        b'{"asin": "B01", "reviewerID": "A1", "overall": "5.0", "summary": "caf\xe9"}',
        orjson.dumps(bad_type),
        # Valid JSON nested deeper than it can be written back as text (a poison event).
        b'{"asin": "B02", "reviewerID": "A2", "overall": 5, "style": '
        + b"[" * 300
        + b"]" * 300
        + b"}",
        # Keys that are not JSON strings, as in batch files: never a text key in silver.
        b'{"asin": 123, "reviewerID": ["A3"], "overall": "4.0"}',
        *good,
    ]
    stream.log.publish(bodies, partition_key="one-partition")
    stream.run(stream.tick())
    bronze_q = read_view(stream.lake, BRONZE_QUARANTINE, where=pl.col("dataset") == "eh_streaming")
    assert sorted(zip(bronze_q["_line"], bronze_q["reason"], strict=True)) == [
        (0, "body is not valid JSON: invalid literal, expected 'null': line 1 column 1 (char 0)"),
        (1, "missing required field(s): reviewerID, overall"),
        (2, "body is not a JSON object but a JSON list"),
        (3, "body is not valid UTF-8"),
        (5, f"{UNSTORABLE_NESTING}: Recursion limit reached"),
        (
            6,
            "asin is not a JSON string: a JSON number; "
            "reviewerID is not a JSON string: a JSON array",
        ),
    ]
    silver_q = read_view(stream.lake, SILVER_QUARANTINE)
    assert silver_q.select("dataset", "_line", "reason").rows() == [
        ("reviews_streaming", 4, "overall is not a number: five")
    ]
    assert stream.lake.count(SILVER_REVIEWS_STREAMING) == 2
    # Nothing is processed twice on the next run.
    stream.rerun({"ops": {"bronze__eh_streaming": {"config": {"ranges": []}}}})
    assert count_view(stream.lake, BRONZE_QUARANTINE) == 6


def test_runs_are_bounded_by_the_events_per_run_limit(
    stream: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAISA_EVENTHUB_MAX_EVENTS_PER_RUN", "3")
    stream.log.publish(generated_payloads(20, seed=11))
    first = stream.tick()
    assert ranges_of(first) == [("0", 0, 2), ("1", 0, 2), ("2", 0, 2), ("3", 0, 2)]
    stream.run(first)
    assert ranges_of(stream.tick()) == [("0", 3, 4), ("1", 3, 4), ("2", 3, 4), ("3", 3, 4)]


def test_a_review_in_batch_and_stream_is_one_gold_row(stream: Stream) -> None:
    payload = orjson.loads(generated_payloads(1, seed=12)[0])
    stream.workspace.write_landing_file(
        "amazon_reviews/partition_0/part-0.json.gz",
        [
            {
                "asin": payload["asin"],
                "reviewerID": payload["reviewerID"],
                "overall": 4.0,
                "unixReviewTime": 1_500_000_000,
            }
        ],
    )
    from paisa_assets.runner import sync_partitions

    sync_partitions(stream.instance, stream.workspace.landing)
    job = stream.defs.resolve_job_def("reviews_ingest_job")
    assert job.execute_in_process(instance=stream.instance, partition_key="partition_0").success
    stream.log.publish([orjson.dumps(payload)])
    stream.run(stream.tick())
    stream.gold()
    gold = stream.lake.read(GOLD_REVIEWS_ENRICHED)
    assert gold.select("source", "rating").rows() == [("batch", 4)]


@pytest.mark.skipif(not SHARED_EVENTS.exists(), reason=f"{SHARED_EVENTS} is absent")
def test_replaying_the_4140_real_events(stream: Stream) -> None:
    lines = [line for line in SHARED_EVENTS.read_bytes().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    expected = len({(r["reviewerID"], r["asin"]) for r in records})
    stream.log.publish(lines)
    stream.run(stream.tick())
    assert stream.lake.count(BRONZE_EH_STREAMING) == 4_140
    assert stream.lake.count(BRONZE_REVIEWS_STREAMING) == 4_140
    assert count_view(stream.lake, BRONZE_QUARANTINE) == 0
    silver = stream.lake.read(SILVER_REVIEWS_STREAMING)
    assert silver.height == expected
    assert silver["review_id"].n_unique() == expected
    assert silver["overall"].is_between(1, 5).all()
    assert (silver["review_date"] == silver["enqueued_time"].dt.date()).all()


def test_local_log_producer_and_consumer_at_the_same_time(tmp_path: Path) -> None:
    log = LocalEventLog(root=str(tmp_path / "events"), hub="h", partitions=2)
    total = 2_000
    done = threading.Event()

    def produce() -> None:
        for start in range(0, total, 50):
            log.publish([f'{{"n": {n}}}'.encode() for n in range(start, start + 50)])
        done.set()

    seen: dict[str, list[StreamEvent]] = {"0": [], "1": []}
    producer = threading.Thread(target=produce)
    producer.start()
    while True:
        finished = done.is_set()
        for pid, events in seen.items():
            last = log.last_sequence_numbers()[pid]
            events += log.read(SequenceRange(pid, len(events), last))
        if finished:
            break
    producer.join()
    for events in seen.values():
        assert [e.sequence_number for e in events] == list(range(len(events)))
        offsets = [int(e.offset) for e in events]
        assert offsets == sorted(set(offsets))
        assert all(e.enqueued_time <= datetime.now(UTC) for e in events)
    bodies = sorted(json.loads(e.body)["n"] for events in seen.values() for e in events)
    assert bodies == list(range(total))


@pytest.mark.reliability
def test_local_log_cuts_a_torn_write(tmp_path: Path) -> None:
    log = LocalEventLog(root=str(tmp_path / "events"), hub="h", partitions=1)
    log.publish([b"a", b"b"])
    with (tmp_path / "events/h/partition_0.log").open("ab") as torn:
        torn.write(b'{"enqueued_time": "2026-')  # a writer died before its index entry
    log.publish([b"c"])
    events = log.read(SequenceRange("0", 0, 10))
    assert [e.body for e in events] == [b"a", b"b", b"c"]


def test_a_run_also_takes_the_events_that_arrived_since_it_was_planned(stream: Stream) -> None:
    stream.log.publish(generated_payloads(8, seed=13))
    planned = stream.tick()
    assert ranges_of(planned) == [("0", 0, 1), ("1", 0, 1), ("2", 0, 1), ("3", 0, 1)]
    stream.log.publish(generated_payloads(8, seed=14))  # while the run waits in the queue
    stream.run(planned)
    assert stream.lake.count(BRONZE_EH_STREAMING) == 16
    assert stream.lake.count(SILVER_REVIEWS_STREAMING) == 16
    (run,) = stream.instance.get_runs()
    # The newer events are named on the run, so that a sensor tick counts them as in flight.
    assert json.loads(run.tags["paisa/extra_ranges"]) == [[p, 2, 3] for p in "0123"]
    assert isinstance(stream.tick(), SkipReason)


def silver_run_counts(stream: Stream) -> list[tuple[int, int]]:
    """(rows_in, rows_duplicates) of each silver.reviews_streaming materialization, oldest first."""
    records = stream.instance.fetch_materializations(
        AssetKey(["silver", "reviews_streaming"]), limit=100, ascending=True
    ).records
    return [
        (
            m.asset_materialization.metadata["rows_in"].value,
            m.asset_materialization.metadata["rows_duplicates"].value,
        )
        for m in records
    ]


def test_silver_decides_each_event_once_losing_duplicates_included(stream: Stream) -> None:
    payloads = generated_payloads(20, seed=15)
    stream.log.publish(payloads)
    stream.run(stream.tick())
    stream.log.publish(payloads)  # the same 20 reviews again: 20 losing copies
    stream.run(stream.tick())
    stream.log.publish(generated_payloads(4, seed=16))
    stream.run(stream.tick())
    stream.rerun({"ops": {"bronze__eh_streaming": {"config": {"ranges": []}}}})
    # Each event is counted once: the losers are not pending again in later runs.
    assert silver_run_counts(stream) == [(20, 0), (20, 20), (4, 0), (0, 0)]
    decided = stream.lake.read(SILVER_STREAM_DECIDED).group_by("outcome").len().sort("outcome")
    assert decided.rows() == [("duplicate", 20), ("kept", 24)]
    assert stream.lake.count(SILVER_REVIEWS_STREAMING) == 24


def test_the_reconciliation_check_names_a_missing_range(stream: Stream) -> None:
    stream.log.publish(generated_payloads(40, seed=17))
    stream.run(stream.tick())
    # Events 3..6 of partition 2 vanish from bronze (a hole no run is fetching).
    DeltaTable(stream.lake.uri(BRONZE_EH_STREAMING)).delete(
        "partition_id = '2' AND sequence_number >= 3 AND sequence_number <= 6"
    )
    context = build_asset_check_context(
        instance=stream.instance, resources={"event_source": stream.log, "lakehouse": stream.lake}
    )
    result = eh_streaming_reconciles_with_hub(context)
    assert result.passed is False
    assert result.metadata["missing_ranges"].value == {"2": ["3-6"]}
    assert result.metadata["missing"].value == 4
    assert result.metadata["held"].value == 36
    # The next tick asks for exactly the hole, and the check passes again.
    assert ranges_of(stream.tick()) == [("2", 3, 6)]


def test_a_lake_from_before_source_ids_is_migrated_without_ingesting_anything_twice(
    stream: Stream,
) -> None:
    stream.log.publish(generated_payloads(20, seed=18))
    stream.run(stream.tick())
    # The stream tables as an earlier version wrote them: no source_id, no decided table.
    for table in (BRONZE_EH_STREAMING, BRONZE_REVIEWS_STREAMING):
        stream.lake.replace(table, stream.lake.read(table).drop("source_id"))
    shutil.rmtree(stream.lake.uri(SILVER_STREAM_DECIDED))
    stream.log.publish(generated_payloads(8, seed=19))
    after = stream.tick()
    assert ranges_of(after) == [(p, 5, 6) for p in "0123"]  # the old rows count as held
    stream.run(after)
    source_id = stream.log.snapshot().source_id
    for table, rows in ((BRONZE_EH_STREAMING, 28), (BRONZE_REVIEWS_STREAMING, 28)):
        migrated = stream.lake.read(table)
        assert migrated.height == rows
        assert migrated["source_id"].unique().to_list() == [source_id]
    assert stream.lake.count(SILVER_REVIEWS_STREAMING) == 28
    assert isinstance(stream.tick(), SkipReason)
