"""Gold transformations as DuckDB SQL over Arrow relations (no Dagster, no I/O).

Each function takes a DuckDB connection on which the input relations are registered under the
names given in its docstring, and returns a stream of Arrow batches: DuckDB streams the result
and spills to disk past its memory limit, so gold builds in bounded memory whatever the lake's
size.

Every mean of an aggregate is written beside its denominator (`reviews`, `verified_known_reviews`,
`priced_reviews`): `transforms.gold_incremental` recovers the exact sums from them to update
the aggregates in place.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import polars as pl
import pyarrow as pa

from paisa_assets.transforms.review_key import REVIEW_KEY, review_keys

# Rows per Arrow batch streamed from DuckDB into Delta: memory stays bounded by a few batches.
# The Delta writer holds several batches at once; at 3M reviews, 100,000-row batches peaked at
# 1.4 GiB and 20,000-row ones at 0.85 GiB, in the same time (10,000 was slower).
BATCH_ROWS = 20_000

# The mean price of products: summed as exact decimals (prices have cents, range midpoints
# half-cents), so the result does not depend on the order DuckDB adds them in.
MEAN_PRICE = "CAST(avg(CAST(price AS DECIMAL(38, 6))) AS DOUBLE)"

# Gold renames the source's camelCase columns for readers (see the asset descriptions).
REVIEWS_ENRICHED_SQL = r"""
WITH meta AS (
    SELECT asin, title, brand, main_cat, category, price, rank, rank_category
    FROM silver_metadata
),
-- Means over exact decimal sums: the same whatever order the rows are read in, so an
-- incremental update (transforms.gold_incremental) prices a review exactly as a rebuild does.
category_price AS (
    SELECT main_cat, {MEAN_PRICE} AS mean_price
    FROM meta WHERE price IS NOT NULL AND main_cat IS NOT NULL
    GROUP BY main_cat
),
global_price AS (
    SELECT {MEAN_PRICE} AS mean_price FROM meta WHERE price IS NOT NULL
),
-- A review in both sources is one review: the curated batch copy is kept. Each source is unique
-- on review_id (silver MERGEs on it), so an anti-join replaces a window over every wide row.
reviews AS (
    SELECT review_id, 'batch' AS source, asin, reviewerID, reviewerName, overall, summary,
           reviewText, review_date, verified, vote, style, image, _ingested_at
    FROM silver_reviews
    UNION ALL
    SELECT review_id, 'stream' AS source, asin, reviewerID, reviewerName, overall, summary,
           reviewText, review_date, verified, vote, style, image, _ingested_at
    FROM silver_reviews_streaming s
    WHERE NOT EXISTS (SELECT 1 FROM silver_reviews b WHERE b.review_id = s.review_id)
)
SELECT
    r.review_id,
    r.source,
    r.asin,
    r.reviewerID AS reviewer_id,
    r.reviewerName AS reviewer_name,
    r.overall AS rating,
    r.summary,
    r.reviewText AS review_text,
    r.review_date,
    CAST(year(r.review_date) AS INTEGER) AS year,
    CAST(month(r.review_date) AS INTEGER) AS month,
    r.verified,
    r.vote AS votes,
    r.style,
    CAST(coalesce(len(r.image), 0) AS INTEGER) AS image_count,
    CAST(NULL AS INTEGER) AS review_words,  -- filled by with_computed_columns
    m.asin IS NOT NULL AS has_metadata,
    m.title,
    m.brand,
    m.main_cat,
    m.category,
    m.price AS listed_price,
    coalesce(m.price, cp.mean_price, gp.mean_price) AS price,
    m.price IS NULL AND coalesce(cp.mean_price, gp.mean_price) IS NOT NULL AS price_imputed,
    m.rank AS sales_rank,
    m.rank_category AS sales_rank_category,
    r._ingested_at,
    CAST(NULL AS BIGINT) AS _review_key  -- filled by with_computed_columns
FROM reviews r
LEFT JOIN meta m ON m.asin = r.asin
LEFT JOIN category_price cp ON cp.main_cat = m.main_cat
CROSS JOIN global_price gp
""".replace("{MEAN_PRICE}", MEAN_PRICE)

PRODUCT_SUMMARY_SQL = """
SELECT
    asin,
    any_value(title) AS title,
    any_value(brand) AS brand,
    any_value(main_cat) AS main_cat,
    any_value(price) AS price,
    bool_or(price_imputed) AS price_imputed,
    count(*) AS reviews,
    avg(rating) AS avg_rating,
    avg(CAST(verified AS DOUBLE)) AS verified_share,
    count(*) FILTER (WHERE source = 'batch') AS batch_reviews,
    count(*) FILTER (WHERE source = 'stream') AS stream_reviews,
    min(review_date) AS first_review_date,
    max(review_date) AS last_review_date,
    count(verified) AS verified_known_reviews
FROM reviews_enriched
GROUP BY asin
"""

CATEGORY_MONTHLY_SQL = """
SELECT
    coalesce(main_cat, 'Unknown') AS main_cat,
    year,
    month,
    count(*) AS reviews,
    avg(rating) AS avg_rating,
    avg(CAST(verified AS DOUBLE)) AS verified_share,
    avg(price) AS avg_price,
    count(verified) AS verified_known_reviews,
    count(price) AS priced_reviews
FROM reviews_enriched
GROUP BY ALL
"""

KPIS_SQL = """
SELECT
    count(*) AS reviews,
    count(DISTINCT reviewer_id) AS reviewers,
    count(DISTINCT asin) AS products,
    avg(rating) AS avg_rating,
    avg(CAST(verified AS DOUBLE)) AS verified_share,
    count(*) FILTER (WHERE source = 'batch') AS batch_reviews,
    count(*) FILTER (WHERE source = 'stream') AS stream_reviews,
    min(review_date) AS first_review_date,
    max(review_date) AS last_review_date,
    count(verified) AS verified_known_reviews
FROM reviews_enriched
"""


def with_computed_columns(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """`reader` with its `review_words` column filled from `review_text`, and `_review_key`
    from `review_id`, batch by batch.

    Words are runs of non-whitespace (Unicode whitespace: a no-break space separates two), counted
    by Polars' regex engine, batch by batch: DuckDB's `regexp_extract_all` builds a list per
    review only to count it (several times slower, measured on a 1M-review gold build). The key
    (`transforms.review_key`) is computed here rather than read from silver, whose stream table
    has none and whose batch table gains it only in its next silver run: 0.05 CPU-s per million
    reviews, against 0.13 in DuckDB's SQL.
    """
    schema = reader.schema
    words_at = schema.get_field_index("review_words")
    text_at = schema.get_field_index("review_text")
    key_at = schema.get_field_index(REVIEW_KEY)
    id_at = schema.get_field_index("review_id")
    schema = schema.set(words_at, pa.field("review_words", pa.int32()))
    schema = schema.set(key_at, pa.field(REVIEW_KEY, pa.int64()))

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            texts = pl.Series(batch.column(text_at)).fill_null("")
            words = texts.str.count_matches(r"\S+").cast(pl.Int32).to_arrow()
            keys = review_keys(pl.Series(batch.column(id_at))).to_arrow()
            columns = batch.columns
            columns[words_at] = words
            columns[key_at] = keys
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def reviews_enriched(con: duckdb.DuckDBPyConnection) -> pa.RecordBatchReader:
    """Reviews left-joined to metadata, price imputed by category mean then global mean.

    Inputs: `silver_reviews`, `silver_reviews_streaming`, `silver_metadata`. A review present in
    both sources is kept once (the batch copy). Imputation means are over products (each asin
    once), not over reviews, so a heavily reviewed product does not skew its category's price.
    """
    return with_computed_columns(con.sql(REVIEWS_ENRICHED_SQL).to_arrow_reader(BATCH_ROWS))


def product_summary(con: duckdb.DuckDBPyConnection) -> pa.RecordBatchReader:
    """One row per reviewed product. Input: `reviews_enriched`."""
    return con.sql(PRODUCT_SUMMARY_SQL).to_arrow_reader(BATCH_ROWS)


def category_monthly(con: duckdb.DuckDBPyConnection) -> pa.RecordBatchReader:
    """One row per main category, year and month. Input: `reviews_enriched`."""
    return con.sql(CATEGORY_MONTHLY_SQL).to_arrow_reader(BATCH_ROWS)


def kpis(con: duckdb.DuckDBPyConnection) -> pa.RecordBatchReader:
    """A single row of headline figures. Input: `reviews_enriched`."""
    return con.sql(KPIS_SQL).to_arrow_reader(BATCH_ROWS)
