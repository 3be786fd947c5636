"""Table names, in one place: `layer.name`, mirrored by the Dagster asset keys."""

from dagster import AssetKey

BRONZE_REVIEWS = "bronze.amazon_reviews"
BRONZE_METADATA = "bronze.amazon_metadata"
BRONZE_QUARANTINE = "bronze.quarantine"
BRONZE_INGESTED_FILES = "bronze.ingested_files"
SILVER_REVIEWS = "silver.amazon_reviews"
SILVER_METADATA = "silver.amazon_metadata"
SILVER_QUARANTINE = "silver.quarantine"
GOLD_REVIEWS_ENRICHED = "gold.reviews_enriched"
GOLD_PRODUCT_SUMMARY = "gold.product_summary"
GOLD_CATEGORY_MONTHLY = "gold.category_monthly"
GOLD_KPIS = "gold.kpis"
GOLD_TABLES = (GOLD_REVIEWS_ENRICHED, GOLD_PRODUCT_SUMMARY, GOLD_CATEGORY_MONTHLY, GOLD_KPIS)
# Batch and stream quarantine alike (rows told apart by `dataset`), published beside gold.
QUARANTINE_TABLES = (BRONZE_QUARANTINE, SILVER_QUARANTINE)


def asset_key(table: str) -> AssetKey:
    """`bronze.amazon_reviews` -> AssetKey(["bronze", "amazon_reviews"])."""
    return AssetKey(table.split("."))


BRONZE_EH_STREAMING = "bronze.eh_streaming"
BRONZE_REVIEWS_STREAMING = "bronze.reviews_streaming"
SILVER_REVIEWS_STREAMING = "silver.reviews_streaming"
# Silver's side table: every stream event silver has decided (kept, lost to a copy, quarantined).
SILVER_STREAM_DECIDED = "silver.reviews_streaming_decided"

GOLD_REVIEW_SENTIMENT = "gold.review_sentiment"
GOLD_RECOMMENDATIONS = "gold.recommendations"
GOLD_SIMILAR_PRODUCTS = "gold.similar_products"
GOLD_MODEL_EVALUATIONS = "gold.model_evaluations"

# Every Delta table paisa writes, in medallion order (what the maintenance job compacts).
ALL_TABLES = (
    BRONZE_REVIEWS,
    BRONZE_METADATA,
    BRONZE_QUARANTINE,
    BRONZE_INGESTED_FILES,
    BRONZE_EH_STREAMING,
    BRONZE_REVIEWS_STREAMING,
    SILVER_REVIEWS,
    SILVER_METADATA,
    SILVER_QUARANTINE,
    SILVER_REVIEWS_STREAMING,
    *GOLD_TABLES,
    GOLD_REVIEW_SENTIMENT,
    GOLD_RECOMMENDATIONS,
    GOLD_SIMILAR_PRODUCTS,
    GOLD_MODEL_EVALUATIONS,
)
