"""The landing-zone sensor: new folders become partitions, new or changed files become runs."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.definitions.partitions.utils.base import INVALID_PARTITION_SUBSTRINGS

from paisa_assets.jobs import INGEST_JOBS
from paisa_assets.partitions import metadata_partitions, reviews_partitions
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import DATASETS, LandingFile, LandingZone
from paisa_assets.settings import (
    LANDING_SENSOR_INTERVAL,
    resolved,
)
from paisa_assets.tables import BRONZE_INGESTED_FILES

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
