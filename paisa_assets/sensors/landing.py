"""The landing-zone sensor: new folders become partitions, pending folders become a few runs.

What is pending is read from the tables (the `bronze.ingested_files` manifest against the
listing) and what is in flight from the instance's active runs, never from the cursor or a run
key: a run that failed, was killed or was cancelled leaves its folders pending and not in flight,
so the next tick requests them again (after a growing pause when they keep failing). The cursor
only remembers what was requested, for that pause, and which rejected folder names were reported.

Pending folders are batched: consecutive folders (in the order they were added as partitions)
go into one run over a partition range, so an initial load of thousands of folders is a
handful of runs, and a burst of new folders one run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl
from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    DynamicPartitionsDefinition,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from paisa_assets import registry
from paisa_assets.jobs import INGEST_JOBS
from paisa_assets.lake_views import read_view
from paisa_assets.partitions import (
    PARTITIONS,
    RANGE_END_TAG,
    RANGE_START_TAG,
    natural_key,
    range_tags,
)
from paisa_assets.pools import pools_of, register_pools
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import (
    DATASETS,
    LandingFile,
    LandingZone,
)
from paisa_assets.run_health import live_active_runs
from paisa_assets.settings import (
    LANDING_MAX_FOLDERS_PER_RUN,
    LANDING_SENSOR_INTERVAL,
    resolved,
)
from paisa_assets.silver_merge import LATEST_FIRST
from paisa_assets.tables import BRONZE_INGESTED_FILES, asset_key

PARTITION_TAG = "dagster/partition"
# The sensor retries its own runs (with a pause that grows); Dagster's run retries on top would
# only race with the sensor's next request.
NO_RUN_RETRIES = {"dagster/max_retries": "0"}
FOLDERS_TAG = "paisa/landing_folders"
# The silver table of each landing dataset (whose partitions say which folders are done): the
# first silver table its ingestion writes, as the registry lists them (the quarantine follows).
SILVER_TABLES = {
    dataset: next(name for name in registry.DATASETS[dataset].tables if name.startswith("silver."))
    for dataset in DATASETS
}
MAX_RUNS_PER_TICK = 4  # per dataset; the rest waits for the next tick
RETRY_PAUSE_SECONDS = (60, 3600)  # after a folder's second failed request, doubling, capped

# What Dagster refuses in a partition key, and why (its dynamic partitions do not check, so such
# a folder would be added and then break ranges, backfills and the UI).
FORBIDDEN_IN_KEYS = {
    "...": "'...' (it separates the two ends of a partition range)",
    "\a": "a bell character",
    "\b": "a backspace",
    "\f": "a form feed",
    "\n": "a line break",
    "\r": "a carriage return",
    "\t": "a tab",
    "\v": "a vertical tab",
    "\0": "a NUL character",
}

__all__ = ["PARTITIONS", "LandingPlan", "landing_zone_sensor", "plan_landing_runs"]


def partition_key_problem(folder: str) -> str | None:
    """Why Dagster cannot take this landing folder's name as a partition key, or None."""
    found = [what for text, what in FORBIDDEN_IN_KEYS.items() if text in folder]
    if not found:
        return None
    return (
        f"its name holds {' and '.join(found)}, which a Dagster partition key cannot hold; "
        "rename the folder to ingest it"
    )


def listing_digest(files: Sequence[LandingFile]) -> str:
    """Changes when a file of the folder appears, disappears or changes."""
    text = "\n".join(f"{f.path}|{f.fingerprint}" for f in sorted(files, key=lambda f: f.path))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def retry_pause(attempts: int) -> float:
    """Seconds to wait before requesting a folder again after `attempts` requests that did not
    ingest it: none after the first (a killed run, a lost race), then 1 min doubling to 1 h."""
    first, longest = RETRY_PAUSE_SECONDS
    return 0.0 if attempts < 2 else float(min(longest, first * 2 ** (attempts - 2)))


@dataclass(frozen=True)
class FolderRun:
    """One run request: consecutive folders of a dataset, in the partitions' order."""

    dataset: str
    folders: tuple[str, ...]
    attempt: int

    def run_request(self) -> RunRequest:
        first, last = self.folders[0], self.folders[-1]
        label = first if len(self.folders) == 1 else f"{first}...{last}"
        tags = {
            **NO_RUN_RETRIES,
            FOLDERS_TAG: f"{self.dataset}/{label} ({len(self.folders)} folder(s))",
        }
        if self.attempt > 1:
            tags["paisa/attempt"] = str(self.attempt)
        if len(self.folders) == 1:
            return RunRequest(
                job_name=INGEST_JOBS[self.dataset].name, partition_key=first, tags=tags
            )
        return RunRequest(
            job_name=INGEST_JOBS[self.dataset].name,
            tags={**tags, **range_tags(first, last)},
        )


@dataclass
class LandingPlan:
    """What one sensor tick should do; computed without Dagster so it is tested directly."""

    new_partitions: dict[str, list[str]] = field(default_factory=dict)
    runs: list[FolderRun] = field(default_factory=list)
    cursor: dict[str, dict] = field(default_factory=dict)
    # Folders whose name cannot be a partition key, seen for the first time (or changed):
    # dataset -> folder -> reason. Reported once, never ingested, never a failed tick.
    rejected: dict[str, dict[str, str]] = field(default_factory=dict)
    # Pending folders not requested this tick: dataset -> folder -> why.
    waiting: dict[str, dict[str, str]] = field(default_factory=dict)
    retried: dict[str, list[str]] = field(default_factory=dict)


def _read_cursor(cursor: Mapping) -> tuple[dict, dict]:
    """(requested, rejected) from a cursor; an older or foreign cursor starts afresh, which
    loses nothing: the tables say what is pending."""
    requested = cursor.get("requested")
    rejected = cursor.get("rejected")
    if not isinstance(requested, dict) or not isinstance(rejected, dict):
        return {}, {}
    return (
        {d: dict(v) for d, v in requested.items()},
        {d: dict(v) for d, v in rejected.items()},
    )


def _consecutive(order: Sequence[str], folders: Sequence[str], most: int) -> list[list[str]]:
    """`folders` cut into groups that are consecutive in `order`, at most `most` each."""
    position = {folder: index for index, folder in enumerate(order)}
    groups: list[list[str]] = []
    previous = None
    for folder in sorted(folders, key=position.__getitem__):
        index = position[folder]
        if groups and previous == index - 1 and len(groups[-1]) < most:
            groups[-1].append(folder)
        else:
            groups.append([folder])
        previous = index
    return groups


def plan_landing_runs(
    listing: Mapping[str, Sequence[LandingFile]],
    ingested: Mapping[str, str],
    known_partitions: Mapping[str, Sequence[str]],
    cursor: Mapping,
    *,
    in_flight: Mapping[str, set[str]] | None = None,
    unfinished: Mapping[str, set[str]] | None = None,
    now: float | None = None,
    max_folders_per_run: int = 500,
) -> LandingPlan:
    """Decide which partitions to add and which folders to ingest, in how few runs.

    A folder is pending while one of its files is not in the manifest (`ingested`: path ->
    fingerprint) in its current form. A pending folder is requested unless a run that holds it
    is active (`in_flight`), or it was already requested in this very form and is still
    pending: that run failed, so it is requested again, after `retry_pause`. A folder in
    `unfinished` (bronze holds it, silver's last attempt at it failed or never ran) is pending
    too, whatever the manifest says.
    `known_partitions` lists each dataset's partitions in the order they were added, which is
    the order partition ranges follow.
    """
    now = time.time() if now is None else now
    requested, reported = _read_cursor(cursor)
    plan = LandingPlan()
    for dataset, files in listing.items():
        by_folder: dict[str, list[LandingFile]] = {}
        for file in files:
            by_folder.setdefault(file.partition, []).append(file)
        seen_rejected = reported.setdefault(dataset, {})
        for folder in sorted(by_folder):
            problem = partition_key_problem(folder)
            if problem is None:
                continue
            digest = listing_digest(by_folder.pop(folder))
            if seen_rejected.get(folder) != digest:
                plan.rejected.setdefault(dataset, {})[folder] = problem
            seen_rejected[folder] = digest
        known = list(known_partitions.get(dataset, ()))
        new = sorted(set(by_folder) - set(known), key=natural_key)
        if new:
            plan.new_partitions[dataset] = new
        order = known + new
        asked = requested.setdefault(dataset, {})
        busy = (in_flight or {}).get(dataset, set())
        stale = (unfinished or {}).get(dataset, set())
        eligible: dict[str, int] = {}
        for folder in order:
            folder_files = by_folder.get(folder)
            pending = folder_files and (
                folder in stale or any(ingested.get(f.path) != f.fingerprint for f in folder_files)
            )
            if not pending:
                asked.pop(folder, None)  # ingested: forget it
                continue
            if folder in busy:
                plan.waiting.setdefault(dataset, {})[folder] = "a run holding it is active"
                continue
            digest = listing_digest(folder_files)
            before = asked.get(folder)
            attempts = before[1] if before and before[0] == digest else 0
            if attempts and now < before[2] + retry_pause(attempts):
                plan.waiting.setdefault(dataset, {})[folder] = (
                    f"{attempts} run(s) did not ingest it; next try after "
                    f"{retry_pause(attempts):.0f} s"
                )
                continue
            eligible[folder] = attempts + 1
        groups = _consecutive(order, list(eligible), max_folders_per_run)
        if dataset in LATEST_FIRST:  # so a later run never overwrites rows an earlier one wrote
            groups.reverse()
        for group in groups[:MAX_RUNS_PER_TICK]:
            attempt = max(eligible[folder] for folder in group)
            plan.runs.append(FolderRun(dataset, tuple(group), attempt))
            for folder in group:
                asked[folder] = [listing_digest(by_folder[folder]), eligible[folder], now]
                if eligible[folder] > 1:
                    plan.retried.setdefault(dataset, []).append(folder)
        for group in groups[MAX_RUNS_PER_TICK:]:
            for folder in group:
                plan.waiting.setdefault(dataset, {})[folder] = "more runs than one tick requests"
    plan.cursor = {"requested": requested, "rejected": reported}
    return plan


def folders_in_flight(
    instance: DagsterInstance, job_name: str, partitions_def: DynamicPartitionsDefinition
) -> set[str]:
    """Landing folders held by active runs of the job (one partition, or a range of them); a
    run whose worker died is marked failed first, and holds nothing."""
    records = live_active_runs(instance, job_name)
    if not records:
        return set()
    order = list(instance.get_dynamic_partitions(partitions_def.name))
    position = {key: index for index, key in enumerate(order)}
    held: set[str] = set()
    for record in records:
        tags = record.dagster_run.tags
        if PARTITION_TAG in tags:
            held.add(tags[PARTITION_TAG])
        elif tags.get(RANGE_START_TAG) in position and tags.get(RANGE_END_TAG) in position:
            held.update(order[position[tags[RANGE_START_TAG]] : position[tags[RANGE_END_TAG]] + 1])
    return held


def silver_unfinished(instance: DagsterInstance, dataset: str, folders: Sequence[str]) -> set[str]:
    """Folders whose silver partition failed its last materialization or never had one: the
    manifest alone cannot tell (bronze may have landed before silver failed)."""
    if not folders:
        return set()
    statuses = instance.get_status_by_partition(
        asset_key(SILVER_TABLES[dataset]), list(folders), PARTITIONS[dataset]
    )
    return {
        folder
        for folder, status in (statuses or {}).items()
        if status is None or status.value == "FAILED"
    }


def read_manifest(lakehouse: Lakehouse) -> dict[str, str]:
    """Fingerprint of every ingested file of every dataset (paths start with the dataset)."""
    manifest = read_view(
        lakehouse,
        BRONZE_INGESTED_FILES,
        columns=["_source_file", "fingerprint"],
        schema={"_source_file": pl.String(), "fingerprint": pl.String()},
    )
    return dict(manifest.iter_rows())  # type: ignore[arg-type]


@sensor(
    name="landing_zone_sensor",
    jobs=list(INGEST_JOBS.values()),
    minimum_interval_seconds=int(resolved(LANDING_SENSOR_INTERVAL)),
    default_status=DefaultSensorStatus.RUNNING,
    description="Finds new landing folders (adds them as partitions) and folders with new or "
    "changed files, and requests few runs over ranges of them; a folder whose run failed is "
    "requested again.",
)
def landing_zone_sensor(
    context: SensorEvaluationContext, landing_zone: LandingZone, lakehouse: Lakehouse
) -> SensorResult | SkipReason:
    if context.repository_def is not None:  # the daemon always passes it
        assets = context.repository_def.assets_defs_by_key.values()
        for pool in register_pools(context.instance, pools_of(assets)):
            context.log.info(f"pool {pool}: registered with the instance's default limit")
    listing = {dataset: landing_zone.list_files(dataset) for dataset in DATASETS}
    known = {
        dataset: list(context.instance.get_dynamic_partitions(PARTITIONS[dataset].name))
        for dataset in DATASETS
    }
    in_flight = {
        dataset: folders_in_flight(context.instance, INGEST_JOBS[dataset].name, PARTITIONS[dataset])
        for dataset in DATASETS
    }
    unfinished = {
        dataset: silver_unfinished(context.instance, dataset, known[dataset])
        for dataset in DATASETS
    }
    cursor = json.loads(context.cursor) if context.cursor else {}
    plan = plan_landing_runs(
        listing,
        read_manifest(lakehouse),
        known,
        cursor,
        in_flight=in_flight,
        unfinished=unfinished,
        max_folders_per_run=int(resolved(LANDING_MAX_FOLDERS_PER_RUN)),
    )
    for dataset, folders in plan.rejected.items():
        for folder, problem in folders.items():
            context.log.warning(f"skipped landing folder {dataset}/{folder!r}: {problem}")
    for dataset, folders in plan.retried.items():
        context.log.warning(
            f"requesting {dataset} folder(s) {', '.join(folders)} again: the run(s) that held "
            "them ended without ingesting them"
        )
    new_cursor = json.dumps(plan.cursor, sort_keys=True)
    if not plan.runs and not plan.new_partitions:
        counts = ", ".join(f"{len(files)} {dataset} file(s)" for dataset, files in listing.items())
        waiting = sum(len(folders) for folders in plan.waiting.values())
        if waiting:
            counts += f"; {waiting} pending folder(s) in flight or waiting to retry"
        skip = SkipReason(f"nothing to request in {landing_zone.describe()}: {counts}")
        if new_cursor == context.cursor:
            return skip
        return SensorResult(skip_reason=skip, cursor=new_cursor)
    return SensorResult(
        run_requests=[run.run_request() for run in plan.runs],
        cursor=new_cursor,
        dynamic_partitions_requests=[
            PARTITIONS[dataset].build_add_request(keys)
            for dataset, keys in plan.new_partitions.items()
        ],
    )
