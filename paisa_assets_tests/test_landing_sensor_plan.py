"""The landing sensor's plan: pending folders batched into few range runs, in-flight folders
left alone, failed folders requested again (with a growing pause), rejected names reported once."""

from __future__ import annotations

from paisa_assets.resources.landing_zone import LandingFile
from paisa_assets.sensors.landing import (
    MAX_RUNS_PER_TICK,
    plan_landing_runs,
    retry_pause,
)

REVIEWS = "amazon_reviews"


def files(*folders: str, size: int = 10) -> list[LandingFile]:
    return [LandingFile(f"{REVIEWS}/{folder}/part-0.json.gz", size, "1") for folder in folders]


def manifest(listing: list[LandingFile]) -> dict[str, str]:
    return {f.path: f.fingerprint for f in listing}


def runs(plan) -> list[tuple[str, ...]]:
    return [run.folders for run in plan.runs]


def test_a_burst_of_new_folders_is_one_range_run_in_natural_order() -> None:
    listing = files(*(f"partition_{n}" for n in range(12)))
    plan = plan_landing_runs({REVIEWS: listing}, {}, {}, {})
    assert plan.new_partitions == {REVIEWS: [f"partition_{n}" for n in range(12)]}
    assert runs(plan) == [tuple(f"partition_{n}" for n in range(12))]
    request = plan.runs[0].run_request()
    assert request.partition_key is None
    assert request.tags["dagster/asset_partition_range_start"] == "partition_0"
    assert request.tags["dagster/asset_partition_range_end"] == "partition_11"
    assert request.tags["dagster/max_retries"] == "0"
    assert request.run_key is None


def test_an_initial_load_of_2500_folders_is_a_handful_of_runs() -> None:
    listing = files(*(f"partition_{n}" for n in range(2500)))
    plan = plan_landing_runs({REVIEWS: listing}, {}, {}, {}, max_folders_per_run=500)
    assert [len(folders) for folders in runs(plan)] == [500] * MAX_RUNS_PER_TICK == [500] * 4
    assert [folders[0] for folders in runs(plan)] == [f"partition_{n}" for n in range(0, 2000, 500)]
    # The next tick, with those four runs in flight, requests the last 500 folders.
    known = plan.new_partitions[REVIEWS]
    busy = {folder for folders in runs(plan) for folder in folders}
    rest = plan_landing_runs(
        {REVIEWS: listing}, {}, {REVIEWS: known}, plan.cursor, in_flight={REVIEWS: busy}
    )
    assert runs(rest) == [tuple(f"partition_{n}" for n in range(2000, 2500))]


def test_only_pending_folders_are_requested_and_ranges_never_span_an_ingested_one() -> None:
    known = [f"partition_{n}" for n in range(6)]
    listing = files(*known)
    ingested = manifest([f for f in listing if f.partition in {"partition_2", "partition_3"}])
    plan = plan_landing_runs({REVIEWS: listing}, ingested, {REVIEWS: known}, {})
    assert plan.new_partitions == {}
    assert runs(plan) == [("partition_0", "partition_1"), ("partition_4", "partition_5")]


def test_runs_per_tick_are_capped_and_the_rest_waits_for_the_next_tick() -> None:
    known = [f"partition_{n}" for n in range(20)]
    listing = files(*known)
    every_other = manifest([f for f in listing if int(f.partition.split("_")[1]) % 2])
    plan = plan_landing_runs({REVIEWS: listing}, every_other, {REVIEWS: known}, {})
    assert len(plan.runs) == MAX_RUNS_PER_TICK
    assert len(plan.waiting[REVIEWS]) == 10 - MAX_RUNS_PER_TICK


def test_folders_of_active_runs_are_not_requested_again() -> None:
    known = ["partition_0", "partition_1", "partition_2"]
    listing = files(*known)
    plan = plan_landing_runs(
        {REVIEWS: listing}, {}, {REVIEWS: known}, {}, in_flight={REVIEWS: {"partition_1"}}
    )
    assert runs(plan) == [("partition_0",), ("partition_2",)]
    assert plan.waiting[REVIEWS] == {"partition_1": "a run holding it is active"}


def test_a_folder_whose_run_failed_is_requested_again_then_after_a_growing_pause() -> None:
    known = ["partition_0"]
    listing = files(*known)
    first = plan_landing_runs({REVIEWS: listing}, {}, {REVIEWS: known}, {}, now=1000.0)
    assert runs(first) == [("partition_0",)]
    # The run failed (nothing ingested, nothing in flight): requested again at once.
    second = plan_landing_runs({REVIEWS: listing}, {}, {REVIEWS: known}, first.cursor, now=1001.0)
    assert runs(second) == [("partition_0",)]
    assert second.runs[0].attempt == 2
    assert second.retried == {REVIEWS: ["partition_0"]}
    # It failed again: the third request waits retry_pause(2) seconds.
    assert retry_pause(2) == 60
    early = plan_landing_runs({REVIEWS: listing}, {}, {REVIEWS: known}, second.cursor, now=1030.0)
    assert runs(early) == []
    assert "next try after 60 s" in early.waiting[REVIEWS]["partition_0"]
    late = plan_landing_runs({REVIEWS: listing}, {}, {REVIEWS: known}, second.cursor, now=1062.0)
    assert [run.attempt for run in late.runs] == [3]
    assert retry_pause(10) == 3600  # capped at an hour


def test_a_changed_folder_starts_its_attempts_afresh_and_an_ingested_one_is_forgotten() -> None:
    known = ["partition_0"]
    listing = files(*known)
    first = plan_landing_runs({REVIEWS: listing}, {}, {REVIEWS: known}, {}, now=0.0)
    second = plan_landing_runs({REVIEWS: listing}, {}, {REVIEWS: known}, first.cursor, now=1.0)
    changed = files(*known, size=11)
    third = plan_landing_runs({REVIEWS: changed}, {}, {REVIEWS: known}, second.cursor, now=2.0)
    assert [run.attempt for run in third.runs] == [1]
    done = plan_landing_runs(
        {REVIEWS: changed}, manifest(changed), {REVIEWS: known}, third.cursor, now=3.0
    )
    assert runs(done) == [] and done.cursor["requested"][REVIEWS] == {}


def test_an_old_or_lost_cursor_loses_nothing() -> None:
    known = ["partition_0"]
    listing = files(*known)
    old_format = {REVIEWS: {"partition_0": "0123456789abcdef"}}
    for cursor in ({}, old_format):
        assert runs(plan_landing_runs({REVIEWS: listing}, {}, {REVIEWS: known}, cursor)) == [
            ("partition_0",)
        ]


def test_a_folder_name_with_a_tab_is_rejected_once_with_a_reason_that_names_it() -> None:
    listing = [LandingFile(f"{REVIEWS}/bad\tname/part-0.json.gz", 1, "1"), *files("partition_0")]
    first = plan_landing_runs({REVIEWS: listing}, {}, {}, {})
    assert first.rejected == {
        REVIEWS: {
            "bad\tname": "its name holds a tab, which a Dagster partition key cannot hold; "
            "rename the folder to ingest it"
        }
    }
    assert runs(first) == [("partition_0",)]
    again = plan_landing_runs({REVIEWS: listing}, {}, {REVIEWS: ["partition_0"]}, first.cursor)
    assert again.rejected == {}


def test_a_folder_bronze_holds_but_silver_failed_on_is_pending() -> None:
    known = ["partition_0", "partition_1"]
    listing = files(*known)
    everything = manifest(listing)
    assert runs(plan_landing_runs({REVIEWS: listing}, everything, {REVIEWS: known}, {})) == []
    plan = plan_landing_runs(
        {REVIEWS: listing}, everything, {REVIEWS: known}, {}, unfinished={REVIEWS: {"partition_1"}}
    )
    assert runs(plan) == [("partition_1",)]


def test_metadata_ranges_are_requested_latest_first() -> None:
    """The latest copy of a product wins: its folders' runs go latest first, so no run updates
    rows an earlier run wrote (an update spread over many partitions rewrites them all)."""
    metadata = "amazon_metadata"
    listing = [
        LandingFile(f"{metadata}/partition_{n}/part-0.json.gz", 10, "1") for n in range(1_500)
    ]
    plan = plan_landing_runs({metadata: listing}, {}, {}, {}, max_folders_per_run=400)
    firsts = [folders[0] for folders in runs(plan)]
    assert firsts == [f"partition_{n}" for n in (1_200, 800, 400, 0)]
    assert [len(folders) for folders in runs(plan)] == [300, 400, 400, 400]
