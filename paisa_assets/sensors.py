"""Sensors: landing zone (new folders and files), Event Hubs (new events) and gold."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.definitions.partitions.utils.base import INVALID_PARTITION_SUBSTRINGS
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from paisa_assets.assets.gold import GOLD_INPUTS, INPUTS_KEY, input_versions
from paisa_assets.assets.streaming import ingested_sequences, next_ranges
from paisa_assets.jobs import INGEST_JOBS, gold_job, streaming_job
from paisa_assets.partitions import metadata_partitions, reviews_partitions
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import DATASETS, LandingFile, LandingZone
from paisa_assets.settings import (
    EVENTHUB_MAX_EVENTS_PER_RUN,
    EVENTHUB_SENSOR_INTERVAL,
    LANDING_SENSOR_INTERVAL,
    resolved,
)
from paisa_assets.tables import BRONZE_INGESTED_FILES, GOLD_REVIEWS_ENRICHED

PARTITIONS = {"amazon_reviews": reviews_partitions, "amazon_metadata": metadata_partitions}


@dataclass
class LandingPlan:
    """What one sensor tick should do; computed without Dagster so it is tested directly."""

    new_partitions: dict[str, list[str]] = field(default_factory=dict)
    runs: list[tuple[str, str, str]] = field(default_factory=list)  # dataset, partition, run key
    cursor: dict[str, dict[str, str]] = field(default_factory=dict)
    # Folders whose name cannot be a partition key, seen for the first time (or changed):
    # dataset -> folder -> reason. Reported once, never ingested, never a failed tick.
    rejected: dict[str, dict[str, str]] = field(default_factory=dict)


def partition_key_problem(folder: str) -> str | None:
    """Why Dagster cannot take this landing folder's name as a partition key, or None.

    Dagster refuses '...' (it separates the two ends of a partition range) and control
    characters in partition keys; its dynamic partitions do not check, so such a folder would
    be added and then break ranges, backfills and the UI. It is skipped with this reason.
    """
    found = [text for text in INVALID_PARTITION_SUBSTRINGS if text in folder]
    if not found:
        return None
    return (
        f"its name holds {', '.join(repr(text) for text in found)}, which a Dagster partition "
        "key cannot ('...' separates the ends of a range); rename the folder to ingest it"
    )


def listing_digest(files: Sequence[LandingFile]) -> str:
    """Changes when a file of the folder appears, disappears or changes."""
    text = "\n".join(f"{f.path}|{f.fingerprint}" for f in sorted(files, key=lambda f: f.path))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def plan_landing_runs(
    listing: Mapping[str, Sequence[LandingFile]],
    ingested: Mapping[str, str],
    known_partitions: Mapping[str, set[str]],
    cursor: Mapping[str, Mapping[str, str]],
) -> LandingPlan:
    """Decide which partitions to add and which folders to ingest.

    The manifest of ingested files (`ingested`: path -> fingerprint) is the truth: a folder is
    requested only while one of its files is not ingested in its current form. The cursor (the
    digest of each folder's listing last requested) only avoids re-emitting a request while that
    run is still going; the run key, which contains the digest, makes Dagster drop any repeat.
    """
    plan = LandingPlan(cursor={d: dict(v) for d, v in cursor.items()})
    for dataset, files in listing.items():
        by_folder: dict[str, list[LandingFile]] = {}
        for file in files:
            by_folder.setdefault(file.partition, []).append(file)
        seen = plan.cursor.setdefault(dataset, {})
        for folder in sorted(by_folder):
            problem = partition_key_problem(folder)
            if problem is None:
                continue
            digest = listing_digest(by_folder.pop(folder))
            if seen.get(folder) != digest:
                plan.rejected.setdefault(dataset, {})[folder] = problem
            seen[folder] = digest
        new = sorted(set(by_folder) - known_partitions.get(dataset, set()))
        if new:
            plan.new_partitions[dataset] = new
        for folder, folder_files in sorted(by_folder.items()):
            digest = listing_digest(folder_files)
            pending = any(ingested.get(f.path) != f.fingerprint for f in folder_files)
            if pending and seen.get(folder) != digest:
                plan.runs.append((dataset, folder, f"{dataset}:{folder}:{digest}"))
            seen[folder] = digest
    return plan


def read_manifest(lakehouse: Lakehouse) -> dict[str, str]:
    if not lakehouse.exists(BRONZE_INGESTED_FILES):
        return {}
    manifest = lakehouse.read(BRONZE_INGESTED_FILES, columns=["_source_file", "fingerprint"])
    return dict(manifest.iter_rows())  # type: ignore[arg-type]


@sensor(
    name="landing_zone_sensor",
    jobs=list(INGEST_JOBS.values()),
    minimum_interval_seconds=int(resolved(LANDING_SENSOR_INTERVAL)),
    default_status=DefaultSensorStatus.RUNNING,
    description="Finds new landing folders (adds them as partitions) and new or changed files "
    "(requests one ingestion run per folder, keyed so nothing is requested twice).",
)
def landing_zone_sensor(
    context: SensorEvaluationContext, landing_zone: LandingZone, lakehouse: Lakehouse
) -> SensorResult | SkipReason:
    listing = {dataset: landing_zone.list_files(dataset) for dataset in DATASETS}
    known = {
        dataset: set(context.instance.get_dynamic_partitions(PARTITIONS[dataset].name))
        for dataset in DATASETS
    }
    cursor = json.loads(context.cursor) if context.cursor else {}
    plan = plan_landing_runs(listing, read_manifest(lakehouse), known, cursor)
    for dataset, folders in plan.rejected.items():
        for folder, problem in folders.items():
            context.log.warning(f"skipped landing folder {dataset}/{folder!r}: {problem}")
    if not plan.runs and not plan.new_partitions:
        skip = SkipReason(
            f"nothing new in {landing_zone.describe()}: "
            + ", ".join(f"{len(files)} {dataset} file(s)" for dataset, files in listing.items())
        )
        if not plan.rejected:
            return skip
        # Remember the rejected folders, so that they are reported once, not on every tick.
        return SensorResult(skip_reason=skip, cursor=json.dumps(plan.cursor, sort_keys=True))
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=run_key,
                job_name=INGEST_JOBS[dataset].name,
                partition_key=partition,
                tags={"paisa/landing_folder": f"{dataset}/{partition}"},
            )
            for dataset, partition, run_key in plan.runs
        ],
        cursor=json.dumps(plan.cursor, sort_keys=True),
        dynamic_partitions_requests=[
            PARTITIONS[dataset].build_add_request(keys)
            for dataset, keys in plan.new_partitions.items()
        ],
    )


@sensor(
    name="eventhub_sensor",
    job=streaming_job,
    minimum_interval_seconds=int(resolved(EVENTHUB_SENSOR_INTERVAL)),
    default_status=DefaultSensorStatus.RUNNING,
    description="Compares each Event Hubs partition's last enqueued sequence number with what "
    "bronze.eh_streaming holds and requests a streaming run for the missing ranges (bounded).",
)
def eventhub_sensor(
    context: SensorEvaluationContext, event_source: EventSource, lakehouse: Lakehouse
) -> SensorResult | SkipReason:
    """The tables say where each partition stands; the cursor only remembers what was requested
    while those runs are still in flight, so that a tick does not request the same events twice.
    With no streaming run in flight the cursor is ignored: a failed run's range is requested
    again, and a reset cursor loses nothing."""
    last = event_source.last_sequence_numbers()
    in_flight = context.instance.get_run_records(
        RunsFilter(job_name=streaming_job.name, statuses=IN_PROGRESS_RUN_STATUSES), limit=1
    )
    requested = json.loads(context.cursor) if context.cursor and in_flight else {}
    limit = int(resolved(EVENTHUB_MAX_EVENTS_PER_RUN))
    ranges = next_ranges(ingested_sequences(lakehouse), last, limit, floor=requested)
    if not ranges:
        return SkipReason(f"no new events in {event_source.describe()} (last: {last})")
    key = ",".join(f"{r.partition_id}:{r.first}-{r.last}" for r in ranges)
    config = {
        "ranges": [
            {"partition_id": r.partition_id, "first": r.first, "last": r.last} for r in ranges
        ]
    }
    requested.update({r.partition_id: r.last for r in ranges})
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"eventhub:{key}",
                run_config={"ops": {"bronze__eh_streaming": {"config": config}}},
                tags={"paisa/event_ranges": key[:200]},
            )
        ],
        cursor=json.dumps(requested, sort_keys=True),
    )


@sensor(
    name="gold_sensor",
    job=gold_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Rebuilds gold and the warehouse when silver has Delta versions that gold was "
    "not built from (one gold run at a time).",
)
def gold_sensor(context: SensorEvaluationContext, lakehouse: Lakehouse) -> RunRequest | SkipReason:
    """Compare silver's Delta versions with those gold recorded in its last commit.

    The tables are the truth here too: unlike an event-driven condition, an update that lands
    while gold is being rebuilt cannot be missed, because the next tick sees the version gap.
    """
    wanted = input_versions(lakehouse, GOLD_INPUTS)
    if all(version is None for version in wanted.values()):
        return SkipReason("silver is empty: nothing to build gold from yet")
    built = lakehouse.last_commit_metadata(GOLD_REVIEWS_ENRICHED).get(INPUTS_KEY)
    if built == wanted:
        return SkipReason(f"gold is up to date with silver {wanted}")
    active = context.instance.get_run_records(
        RunsFilter(job_name=gold_job.name, statuses=IN_PROGRESS_RUN_STATUSES), limit=1
    )
    if active:
        return SkipReason("a gold run is already queued or running")
    key = ",".join(f"{table}@{version}" for table, version in sorted(wanted.items()))
    return RunRequest(run_key=f"gold:{key}")
