"""Planning stream ingestion from the hub's own bounds (pure functions, no I/O).

Every sequence number of a partition, from 0 to the last enqueued one, is exactly one of:

- held: in bronze.eh_streaming (for the current source);
- expired: below the hub's floor (`beginning_sequence_number`) and not held, so it can never be
  read again; counted and reported, never silently skipped;
- in flight: in the range of a streaming run that is queued or running;
- pending: above everything held or in flight, i.e. events the sensor has not asked for yet
  (new since the last tick, or beyond the per-run limit);
- missing: a hole below something held or in flight that no run is fetching. The planner asks
  for holes first, so a missing range lasts at most one tick unless a run keeps failing.

Intervals are inclusive `(first, last)` pairs, sorted and disjoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from paisa_assets.events import PartitionBounds, SequenceRange

Interval = tuple[int, int]


def normalise(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, adjacent ones joined; empty ones dropped."""
    merged: list[Interval] = []
    for first, last in sorted(i for i in intervals if i[0] <= i[1]):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def subtract(span: Interval, taken: Iterable[Interval]) -> list[Interval]:
    """The parts of `span` that no interval of `taken` covers."""
    gaps, start = [], span[0]
    for first, last in normalise(taken):
        if last < start:
            continue
        if first > span[1]:
            break
        if first > start:
            gaps.append((start, first - 1))
        start = max(start, last + 1)
    if start <= span[1]:
        gaps.append((start, span[1]))
    return gaps


def intersect(span: Interval, intervals: Iterable[Interval]) -> list[Interval]:
    return [
        (max(first, span[0]), min(last, span[1]))
        for first, last in normalise(intervals)
        if first <= span[1] and last >= span[0]
    ]


def count(intervals: Iterable[Interval]) -> int:
    return sum(last - first + 1 for first, last in intervals)


def plan_ranges(
    bounds: Mapping[str, PartitionBounds],
    held: Mapping[str, list[Interval]],
    in_flight: Mapping[str, list[Interval]],
    limit: int | Mapping[str, int],
) -> list[SequenceRange]:
    """The next run's ranges: per partition, every retained sequence number that is neither held
    nor in flight, oldest first (holes before new events), at most `limit` per partition (one
    number for all, or per partition id)."""
    ranges = []
    for partition_id, bound in sorted(bounds.items()):
        taken = [*held.get(partition_id, []), *in_flight.get(partition_id, [])]
        budget = limit if isinstance(limit, int) else limit.get(partition_id, 0)
        for first, last in subtract((bound.first, bound.last), taken):
            if budget <= 0:
                break
            end = min(last, first + budget - 1)
            ranges.append(SequenceRange(partition_id, first, end))
            budget -= end - first + 1
    return ranges


@dataclass(frozen=True)
class PartitionReconciliation:
    """Where every sequence number 0..last of one partition stands (see the module docstring)."""

    partition_id: str
    floor: int
    last: int
    held: int
    held_below_floor: int
    expired: int
    in_flight: int
    pending: int
    missing_ranges: list[Interval] = field(default_factory=list)
    held_beyond_last: int = 0

    @property
    def missing(self) -> int:
        return count(self.missing_ranges)

    @property
    def balanced(self) -> bool:
        """held + expired + in flight + pending + missing = last + 1 (every number once)."""
        total = self.held + self.expired + self.in_flight + self.pending + self.missing
        return total == self.last + 1

    def as_metadata(self) -> dict[str, object]:
        return {
            "floor": self.floor,
            "last": self.last,
            "held": self.held,
            "held_below_floor": self.held_below_floor,
            "expired_before_ingestion": self.expired,
            "in_flight": self.in_flight,
            "pending": self.pending,
            "missing": self.missing,
            "missing_ranges": [f"{a}-{b}" for a, b in self.missing_ranges],
            "held_beyond_last": self.held_beyond_last,
        }


def reconcile(
    bounds: Mapping[str, PartitionBounds],
    held: Mapping[str, list[Interval]],
    in_flight: Mapping[str, list[Interval]],
) -> list[PartitionReconciliation]:
    """Account for every sequence number of every partition (see the module docstring).

    Bronze may hold events below the floor (ingested before they expired): those are held, not
    expired; `expired` counts only numbers below the floor that bronze never got."""
    report = []
    for partition_id, bound in sorted(bounds.items()):
        floor, last = bound.first, bound.last
        kept = normalise(held.get(partition_id, []))
        held_all = intersect((0, last), kept)
        held_below = count(intersect((0, floor - 1), kept))
        flying = subtract((floor, last), kept)
        flying = [
            piece for gap in flying for piece in intersect(gap, in_flight.get(partition_id, []))
        ]
        open_ = subtract((floor, last), [*kept, *flying])
        # Open numbers above every held or in-flight one are pending; the rest are holes.
        top = max([b for _, b in held_all] + [b for _, b in flying] + [floor - 1])
        missing = [(a, min(b, top)) for a, b in open_ if a <= top]
        report.append(
            PartitionReconciliation(
                partition_id=partition_id,
                floor=floor,
                last=last,
                held=count(held_all),
                held_below_floor=held_below,
                expired=max(0, floor - held_below),
                in_flight=count(flying),
                pending=count(open_) - count(missing),
                missing_ranges=missing,
                held_beyond_last=count(intersect((last + 1, 2**62), kept)),
            )
        )
    return report
