"""Jobs the sensors and the CLI launch: one ingestion job per landing dataset, and gold."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from paisa_assets.partitions import metadata_partitions, reviews_partitions
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_METADATA,
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_STREAMING,
    GOLD_REVIEW_SENTIMENT,
    SILVER_METADATA,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
    asset_key,
)

reviews_ingest_job = define_asset_job(
    "reviews_ingest_job",
    selection=AssetSelection.assets(asset_key(BRONZE_REVIEWS), asset_key(SILVER_REVIEWS)),
    partitions_def=reviews_partitions,
    description="Landing folder(s) of amazon_reviews -> bronze -> silver.",
)
metadata_ingest_job = define_asset_job(
    "metadata_ingest_job",
    selection=AssetSelection.assets(asset_key(BRONZE_METADATA), asset_key(SILVER_METADATA)),
    partitions_def=metadata_partitions,
    description="Landing folder(s) of amazon_metadata -> bronze -> silver.",
)
gold_job = define_asset_job(
    "gold_job",
    selection=AssetSelection.groups("gold", "serving", "reporting")
    | AssetSelection.assets(asset_key(GOLD_REVIEW_SENTIMENT)),
    description="Rebuild the gold tables from silver (a no-op when silver is unchanged), score "
    "new reviews with the champion sentiment model, refresh the DuckDB warehouse file and the "
    "dashboard.",
)
ml_job = define_asset_job(
    "ml_job",
    selection=AssetSelection.groups("ml", "reporting"),
    description="Train the sentiment classifier and the recommender on gold (tracked in MLflow), "
    "score gold reviews with the champion, write the recommendations, refresh the dashboard.",
)

streaming_job = define_asset_job(
    "streaming_job",
    selection=AssetSelection.assets(
        asset_key(BRONZE_EH_STREAMING),
        asset_key(BRONZE_REVIEWS_STREAMING),
        asset_key(SILVER_REVIEWS_STREAMING),
    ),
    description="Event Hubs sequence ranges -> bronze.eh_streaming -> bronze.reviews_streaming "
    "-> silver.reviews_streaming.",
    # Three small steps in one process: no per-step process start, so events reach silver sooner.
    executor_def=in_process_executor,
)

INGEST_JOBS = {"amazon_reviews": reviews_ingest_job, "amazon_metadata": metadata_ingest_job}
