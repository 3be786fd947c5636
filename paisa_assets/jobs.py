"""Jobs the sensors, the schedule and the CLI launch.

Every job runs its steps in the run worker's own process (`in_process_executor`): the steps of
these jobs depend on each other in a line, so separate step processes would only add a code
location load (seconds) per step. Bronze still parses on its own worker processes.
Every job carries a `paisa/lane` tag, which `dagster.yaml` limits per lane, so ingestion never
takes every run slot and gold runs one at a time.
"""

from dagster import AssetSelection, define_asset_job, in_process_executor

from paisa_assets.asset_specs import dataset_keys
from paisa_assets.check_scope import FULL_CHECK_TAG
from paisa_assets.gold_update import REBUILD_TAG
from paisa_assets.partitions import PARTITIONS
from paisa_assets.registry import (
    DATASETS,
    LANDING_DATASETS,
    METADATA_DATASET,
    REVIEWS_DATASET,
    STREAM_DATASET,
)
from paisa_assets.tables import (
    BRONZE_REVIEWS,
    GOLD_REVIEW_SENTIMENT,
    SILVER_METADATA,
    SILVER_REVIEWS,
    asset_key,
)

LANE_TAG = "paisa/lane"
# Stream runs jump the queue: fresh events matter more than a backfill's next folder.
STREAM_PRIORITY = "10"
# A stream run fetches at most PAISA_EVENTHUB_MAX_EVENTS_PER_RUN events per partition: minutes
# at most. Beyond this, run monitoring fails it and frees the stream pool.
STREAM_MAX_RUNTIME_SECONDS = "900"


def ingest_job(dataset: str):
    """A landing dataset's job: every table its bronze and silver assets write."""
    return define_asset_job(
        DATASETS[dataset].job,
        selection=AssetSelection.assets(*dataset_keys(dataset)),
        partitions_def=PARTITIONS[dataset],
        description=f"Landing folder(s) of {dataset} -> bronze -> silver, with their "
        "quarantine and manifest tables.",
        executor_def=in_process_executor,
        tags={LANE_TAG: "ingest"},
    )


INGEST_JOBS = {dataset: ingest_job(dataset) for dataset in LANDING_DATASETS}
reviews_ingest_job = INGEST_JOBS[REVIEWS_DATASET]
metadata_ingest_job = INGEST_JOBS[METADATA_DATASET]

gold_job = define_asset_job(
    "gold_job",
    selection=AssetSelection.groups("gold", "serving", "reporting")
    | AssetSelection.assets(asset_key(GOLD_REVIEW_SENTIMENT)),
    description="Rebuild the gold tables from silver (a no-op when silver is unchanged), score "
    "new reviews with the champion sentiment model, refresh the DuckDB warehouse file and the "
    "dashboard.",
    executor_def=in_process_executor,
    tags={LANE_TAG: "gold"},
)
ml_job = define_asset_job(
    "ml_job",
    selection=AssetSelection.groups("ml", "reporting"),
    description="Train the sentiment classifier and the recommender on gold (tracked in MLflow), "
    "score gold reviews with the champion, write the recommendations, refresh the dashboard.",
    executor_def=in_process_executor,
    tags={LANE_TAG: "ml"},
)

streaming_job = define_asset_job(
    DATASETS[STREAM_DATASET].job,
    selection=AssetSelection.assets(*dataset_keys(STREAM_DATASET)),
    description="Event Hubs sequence ranges -> bronze.eh_streaming -> bronze.reviews_streaming "
    "-> silver.reviews_streaming.",
    executor_def=in_process_executor,
    # The sensor re-plans failed ranges from the tables on its next tick, so the daemon's own
    # retries would only fetch them twice; a run whose worker hangs is ended by run monitoring.
    tags={
        LANE_TAG: "stream",
        "dagster/priority": STREAM_PRIORITY,
        "dagster/max_retries": "0",
        "dagster/max_runtime": STREAM_MAX_RUNTIME_SECONDS,
    },
)

maintenance_job = define_asset_job(
    "maintenance_job",
    selection=AssetSelection.assets("lake_maintenance", ["warehouse", "duckdb"]),
    description="Compact, checkpoint and vacuum every Delta table, then republish the warehouse "
    "views over the compacted files.",
    executor_def=in_process_executor,
    tags={LANE_TAG: "maintenance"},
)

# Gold is updated in place and blocking checks look at what changed; this job is the periodic
# full reconciliation that backs both: gold rebuilt from silver, and every silver and gold check
# over whole tables (a check fails whenever data was lost, whichever run lost it).
reconciliation_job = define_asset_job(
    "reconciliation_job",
    selection=AssetSelection.groups("gold")
    | AssetSelection.checks_for_assets(
        asset_key(SILVER_REVIEWS), asset_key(SILVER_METADATA), asset_key(BRONZE_REVIEWS)
    ),
    description="Rebuild gold in full and run every silver and gold asset check over whole "
    "tables (the periodic reconciliation of the incremental updates and the checks on changes).",
    executor_def=in_process_executor,
    tags={LANE_TAG: "gold", FULL_CHECK_TAG: "full", REBUILD_TAG: "full"},
)
