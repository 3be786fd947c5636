"""Streaming runs as the Dagster instance records them: which event ranges they are fetching.

In-flight ranges come from the run records (each run's config says which ranges it fetches),
not from a sensor cursor: a cursor cannot know that a run failed, was retried or is still queued.
Active runs, and runs whose worker died, are `paisa_assets.run_health`'s: the same for every
sensor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from dagster import DagsterInstance, RunRecord

from paisa_assets.streaming.plan import Interval, normalise

STREAM_OP = "bronze__eh_streaming"
# Ranges a run added to its own at start (newer events than the sensor saw), as JSON
# [[partition id, first, last], ...]: in flight like the ones in its config.
EXTRA_RANGES_TAG = "paisa/extra_ranges"


def stream_config(run_config: Mapping[str, Any]) -> Mapping[str, Any]:
    return run_config.get("ops", {}).get(STREAM_OP, {}).get("config", {}) or {}


def in_flight_ranges(records: Iterable[RunRecord], source_id: str) -> dict[str, list[Interval]]:
    """Per partition, the ranges that active runs for `source_id` are fetching: those in their
    config, and those they added at start (the `paisa/extra_ranges` tag)."""
    flying: dict[str, list[Interval]] = {}
    for record in records:
        run = record.dagster_run
        config = stream_config(run.run_config)
        if (config.get("source_id") or source_id) != source_id:
            continue
        ranges = [(w["partition_id"], w["first"], w["last"]) for w in config.get("ranges", [])]
        ranges += json.loads(run.tags.get(EXTRA_RANGES_TAG, "[]"))
        for partition_id, first, last in ranges:
            flying.setdefault(str(partition_id), []).append((int(first), int(last)))
    return {pid: normalise(ranges) for pid, ranges in flying.items()}


def tag_extra_ranges(instance: DagsterInstance, run_id: str, ranges: Iterable[Any]) -> None:
    """Record ranges a run took on beyond its config, before it reads them."""
    value = json.dumps([[r.partition_id, r.first, r.last] for r in ranges])
    instance.add_run_tags(run_id, {EXTRA_RANGES_TAG: value})
