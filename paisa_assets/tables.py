"""Table names, in one place: `layer.name`, mirrored by the Dagster asset keys.

Every Delta table here has exactly one writer, the asset of the same key. Where readers want
one relation over several tables (every dataset's quarantine, every model's evaluations),
`UNION_VIEWS` names it: the warehouse publishes it as a DuckDB view, and `lake_views` reads it.
"""

from dagster import AssetKey

BRONZE_REVIEWS = "bronze.amazon_reviews"
BRONZE_METADATA = "bronze.amazon_metadata"
# Lines of a landing dataset's files that bronze could not store, and the files it ingested.
BRONZE_REVIEWS_QUARANTINE = "bronze.amazon_reviews_quarantine"
BRONZE_METADATA_QUARANTINE = "bronze.amazon_metadata_quarantine"
BRONZE_REVIEWS_FILES = "bronze.amazon_reviews_ingested_files"
BRONZE_METADATA_FILES = "bronze.amazon_metadata_ingested_files"
SILVER_REVIEWS = "silver.amazon_reviews"
SILVER_METADATA = "silver.amazon_metadata"
SILVER_REVIEWS_QUARANTINE = "silver.amazon_reviews_quarantine"
SILVER_METADATA_QUARANTINE = "silver.amazon_metadata_quarantine"
GOLD_REVIEWS_ENRICHED = "gold.reviews_enriched"
GOLD_PRODUCT_SUMMARY = "gold.product_summary"
GOLD_CATEGORY_MONTHLY = "gold.category_monthly"
GOLD_KPIS = "gold.kpis"
GOLD_TABLES = (GOLD_REVIEWS_ENRICHED, GOLD_PRODUCT_SUMMARY, GOLD_CATEGORY_MONTHLY, GOLD_KPIS)


def asset_key(table: str) -> AssetKey:
    """`bronze.amazon_reviews` -> AssetKey(["bronze", "amazon_reviews"])."""
    return AssetKey(table.split("."))


BRONZE_EH_STREAMING = "bronze.eh_streaming"
BRONZE_REVIEWS_STREAMING = "bronze.reviews_streaming"
# Events bronze.reviews_streaming could not parse (rows keep dataset "eh_streaming").
BRONZE_STREAM_QUARANTINE = "bronze.reviews_streaming_quarantine"
SILVER_REVIEWS_STREAMING = "silver.reviews_streaming"
SILVER_STREAM_QUARANTINE = "silver.reviews_streaming_quarantine"
# Silver's side table: every stream event silver has decided (kept, lost to a copy, quarantined).
SILVER_STREAM_DECIDED = "silver.reviews_streaming_decided"

GOLD_REVIEW_SENTIMENT = "gold.review_sentiment"
GOLD_RECOMMENDATIONS = "gold.recommendations"
GOLD_SIMILAR_PRODUCTS = "gold.similar_products"
# Every trained version of a model, its test metrics and the champion flag: one table per model.
GOLD_SENTIMENT_EVALUATIONS = "gold.sentiment_model_evaluations"
GOLD_RECOMMENDER_EVALUATIONS = "gold.recommender_evaluations"

# Relations over several tables (same columns; rows told apart by `dataset` or `model`). Until
# lakes written before the split are migrated they were tables of these names (see lake_views).
BRONZE_QUARANTINE = "bronze.quarantine"
SILVER_QUARANTINE = "silver.quarantine"
BRONZE_INGESTED_FILES = "bronze.ingested_files"
GOLD_MODEL_EVALUATIONS = "gold.model_evaluations"
UNION_VIEWS: dict[str, tuple[str, ...]] = {
    BRONZE_QUARANTINE: (
        BRONZE_REVIEWS_QUARANTINE,
        BRONZE_METADATA_QUARANTINE,
        BRONZE_STREAM_QUARANTINE,
    ),
    SILVER_QUARANTINE: (
        SILVER_REVIEWS_QUARANTINE,
        SILVER_METADATA_QUARANTINE,
        SILVER_STREAM_QUARANTINE,
    ),
    BRONZE_INGESTED_FILES: (BRONZE_REVIEWS_FILES, BRONZE_METADATA_FILES),
    GOLD_MODEL_EVALUATIONS: (GOLD_SENTIMENT_EVALUATIONS, GOLD_RECOMMENDER_EVALUATIONS),
}
# Batch and stream quarantine alike (rows told apart by `dataset`), published beside gold.
QUARANTINE_TABLES = (*UNION_VIEWS[BRONZE_QUARANTINE], *UNION_VIEWS[SILVER_QUARANTINE])

# Every Delta table paisa writes, in medallion order (what the maintenance job compacts).
ALL_TABLES = (
    BRONZE_REVIEWS,
    BRONZE_METADATA,
    BRONZE_REVIEWS_QUARANTINE,
    BRONZE_METADATA_QUARANTINE,
    BRONZE_REVIEWS_FILES,
    BRONZE_METADATA_FILES,
    BRONZE_EH_STREAMING,
    BRONZE_REVIEWS_STREAMING,
    BRONZE_STREAM_QUARANTINE,
    SILVER_REVIEWS,
    SILVER_METADATA,
    SILVER_REVIEWS_QUARANTINE,
    SILVER_METADATA_QUARANTINE,
    SILVER_REVIEWS_STREAMING,
    SILVER_STREAM_QUARANTINE,
    SILVER_STREAM_DECIDED,
    *GOLD_TABLES,
    GOLD_REVIEW_SENTIMENT,
    GOLD_RECOMMENDATIONS,
    GOLD_SIMILAR_PRODUCTS,
    GOLD_SENTIMENT_EVALUATIONS,
    GOLD_RECOMMENDER_EVALUATIONS,
)
