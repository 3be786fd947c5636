"""Planning stream ingestion from the hub's bounds: holes anywhere above the floor, in-flight
ranges left alone, expired events counted (pure functions, no I/O)."""

from __future__ import annotations

from paisa_assets.events import PartitionBounds, SequenceRange
from paisa_assets.streaming.plan import normalise, plan_ranges, reconcile, subtract


def test_interval_arithmetic():
    assert normalise([(5, 9), (0, 2), (3, 4), (20, 19), (8, 12)]) == [(0, 12)]
    assert subtract((0, 20), [(3, 5), (10, 30)]) == [(0, 2), (6, 9)]
    assert subtract((5, 5), []) == [(5, 5)]
    assert subtract((0, -1), []) == []


def test_an_empty_lake_starts_at_the_floor_not_at_zero():
    bounds = {"0": PartitionBounds(5_000, 9_999), "1": PartitionBounds(0, -1)}
    assert plan_ranges(bounds, {}, {}, 10_000) == [SequenceRange("0", 5_000, 9_999)]


def test_holes_before_the_first_held_number_and_between_are_requested_first():
    # Run 0-299 was killed, 300-599 succeeded, 700-799 too; 600-699 and 800+ never arrived.
    held = {"0": [(300, 599), (700, 799)]}
    bounds = {"0": PartitionBounds(0, 1_199)}
    assert plan_ranges(bounds, held, {}, 10_000) == [
        SequenceRange("0", 0, 299),
        SequenceRange("0", 600, 699),
        SequenceRange("0", 800, 1_199),
    ]
    # The per-run limit takes the oldest first.
    assert plan_ranges(bounds, held, {}, 350) == [
        SequenceRange("0", 0, 299),
        SequenceRange("0", 600, 649),
    ]


def test_ranges_in_flight_are_not_requested_twice():
    bounds = {"0": PartitionBounds(0, 999)}
    assert plan_ranges(bounds, {}, {"0": [(0, 299)]}, 300) == [SequenceRange("0", 300, 599)]
    assert plan_ranges(bounds, {"0": [(300, 999)]}, {"0": [(0, 299)]}, 300) == []


def test_a_failed_range_with_a_large_backlog_is_requested_again():
    # Nothing held, nothing in flight (the run failed): the same range, every time.
    bounds = {"0": PartitionBounds(0, 2_799)}
    first = plan_ranges(bounds, {}, {}, 1_000)
    assert first == plan_ranges(bounds, {}, {}, 1_000) == [SequenceRange("0", 0, 999)]


def test_reconcile_accounts_for_every_sequence_number():
    bounds = {"0": PartitionBounds(400, 1_199), "1": PartitionBounds(0, 99)}
    held = {"0": [(0, 99), (500, 599)], "1": [(0, 49), (60, 99)]}
    flying = {"0": [(600, 699)]}
    zero, one = reconcile(bounds, held, flying)
    # Partition 0: 0-99 held before they expired, 100-399 expired unread, 400-499 a hole,
    # 500-599 held, 600-699 in flight, 700-1199 not requested yet.
    assert zero.as_metadata() == {
        "floor": 400,
        "last": 1_199,
        "held": 200,
        "held_below_floor": 100,
        "expired_before_ingestion": 300,
        "in_flight": 100,
        "pending": 500,
        "missing": 100,
        "missing_ranges": ["400-499"],
        "held_beyond_last": 0,
    }
    assert zero.balanced
    assert (one.held, one.missing_ranges, one.pending, one.expired) == (90, [(50, 59)], 0, 0)
    assert one.balanced


def test_reconcile_of_a_fully_expired_partition():
    (report,) = reconcile({"0": PartitionBounds(10, 9)}, {"0": [(0, 3)]}, {})
    assert (report.held, report.expired, report.missing, report.pending) == (4, 6, 0, 0)
    assert report.balanced
