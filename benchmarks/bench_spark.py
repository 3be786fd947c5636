"""The same bronze -> silver -> gold in PySpark local mode, for the side-by-side figure.

What the datathon's winning solution ran on Databricks, reduced to what open-source Spark does
on one machine: the same landing files, the same transformations (JSON parsing with every
value kept as text, typing and validation with quarantine reasons, review ids, global
deduplication, HTML and entity cleaning, price and rank parsing, the join to metadata with
category-then-global price imputation, the gold aggregates), written as Parquet, because the
Delta jars cannot be downloaded here. Parquet writes are cheaper than Delta commits and
MERGEs, so the comparison favours Spark.

Spark is tuned the way one would tune it for this machine rather than left at its defaults:
`local[2]`, 8 shuffle partitions (adaptive execution coalesces further), no UI. Its memory is
capped like paisa's: the driver heap (in local mode, the whole of Spark's heap) is 1.5 GB at
most, beside paisa's own limits (DuckDB 512 MB, 20,000-row batches); both are measured as the
peak resident memory of their whole process tree (the JVM and its Python workers included).

The pipeline runs twice in one session: the first run pays the JVM's warm-up (class loading,
code generation), the second is Spark at its best. Its outputs are the ones compared with
paisa's (`bench_compare.py`), so everything that decides which rows and values come out is
paisa's rule: review ids are paisa's blake2b digests (a vectorised Python UDF, as paisa computes
them in Python too), a duplicate keeps its copy at the first (reviews) or last (metadata)
position in the landing zone, folder and file names compared by length then text, and words
are runs of Unicode non-whitespace. The line number of a JSON line has no cheap Spark
equivalent: a monotonically increasing id, which follows the lines' order within a file,
stands in.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from paisa_assets.transforms.categories import canonical_category
from paisa_assets.transforms.prices import PRICE_PATTERN
from paisa_assets.transforms.reviews import REVIEW_ID_BYTES, REVIEW_ID_SEPARATOR
from paisa_assets.transforms.schemas import BRONZE_METADATA_COLUMNS, BRONZE_REVIEWS_COLUMNS

DRIVER_MEMORY = "1500m"
SHUFFLE_PARTITIONS = 8
CORRUPT = "_corrupt_record"

_INTEGER = r"^\s*[+-]?[0-9]+\s*$"
_GROUPED_INTEGER = r"^\s*[+-]?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)\s*$"
_DECIMAL = r"^\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$"
_RANK = r"^>? ?#? ?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+) in "
_SEE_TOP_SUFFIX = r"(?i) ?\( ?(?:See top\b[^)]*\)?)?$"
# The patterns of paisa_assets.transforms (private there), in Java regex syntax.
_TAG = r"</?[A-Za-z][^>]*>"
_IMG_ALT = r"""(?i)<img\b[^>]*\balt\s*=\s*(?:"([^"]*)"|'([^']*)')"""
_ENTITIES = {
    "&amp;": "&",
    "&lt;": "<",
    "&gt;": ">",
    "&quot;": '"',
    "&#39;": "'",
    "&nbsp;": " ",
}
LIST_FIELDS = ("category", "also_buy", "also_view", "description", "feature", "image")


def spark_session() -> Any:
    from pyspark.sql import SparkSession

    # Spark's Python workers (the review-id UDF needs pyarrow) run this interpreter, not
    # whatever `python3` is first on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("paisa-benchmark")
        .config("spark.driver.memory", DRIVER_MEMORY)
        .config("spark.sql.shuffle.partitions", SHUFFLE_PARTITIONS)
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _strings(columns: tuple[str, ...]) -> Any:
    from pyspark.sql.types import StringType, StructField, StructType

    fields = [StructField(name, StringType()) for name in columns]
    return StructType([*fields, StructField(CORRUPT, StringType())])


def bronze(spark: Any, landing: Path, lake: Path, dataset: str, columns: tuple[str, ...]) -> None:
    """Every line as text (objects and numbers as their JSON text), with lineage columns."""
    from pyspark.sql import functions as F

    frame = (
        spark.read.schema(_strings(columns))
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .json(str(landing / dataset / "*" / "*.json.gz"))
        .withColumn("_source_file", F.col("_metadata.file_path"))
        .withColumn("_partition", F.regexp_extract("_source_file", r"/(partition_[^/]+)/", 1))
        .withColumn("_line", F.monotonically_increasing_id())
        .withColumn("_ingested_at", F.current_timestamp())
    )
    frame.write.mode("overwrite").partitionBy("_partition").parquet(str(lake / "bronze" / dataset))


def _blake2b_ids() -> Any:
    """paisa's review id: the blake2b digest (8 bytes, hex) of reviewer id, separator, asin,
    as an Arrow-batched Python UDF."""
    import hashlib

    from pyspark.sql import functions as F

    def review_id(key: str | None) -> str | None:
        if key is None:
            return None
        return hashlib.blake2b(key.encode(), digest_size=REVIEW_ID_BYTES).hexdigest()

    return F.udf(review_id, "string", useArrow=True)


def _canonical(frame: Any, column: str) -> Any:
    """paisa's one spelling of each category label (`canonical_category`, case-insensitive):
    the distinct labels are few, so they are mapped on the driver and looked up in a literal
    map, as paisa maps each distinct label once."""
    from itertools import chain

    from pyspark.sql import functions as F

    labels = [row[0] for row in frame.select(column).distinct().collect() if row[0] is not None]
    if not labels:
        return F.col(column)
    mapping = {label: canonical_category(label) for label in labels}
    literals = F.create_map(*(F.lit(v) for v in chain.from_iterable(mapping.items())))
    return F.element_at(literals, F.col(column))


def _position() -> list[Any]:
    """paisa's order of copies in the landing zone (`transforms.dedupe`): folder, file, line,
    each name compared by length first, then by its text."""
    from pyspark.sql import functions as F

    return [
        F.length("_partition"),
        F.col("_partition"),
        F.length("_source_file"),
        F.col("_source_file"),
        F.col("_line"),
    ]


def _empty_to_null(column: Any) -> Any:
    from pyspark.sql import functions as F

    return F.when(column != "", column)


def _reasons(checks: list[tuple[Any, Any]]) -> Any:
    from pyspark.sql import functions as F

    return F.concat_ws("; ", *[F.when(violated, reason) for violated, reason in checks])


def _unescape(column: Any) -> Any:
    from pyspark.sql import functions as F

    for entity, text in _ENTITIES.items():
        column = F.regexp_replace(column, entity, text)
    return column


def _strip_html(column: Any) -> Any:
    from pyspark.sql import functions as F

    text = F.regexp_replace(column, r"(?is)<script\b[^>]*>.*?</script\s*>", " ")
    text = F.regexp_replace(text, _TAG, " ")
    text = F.trim(F.regexp_replace(_unescape(text), r"\s+", " "))
    return _empty_to_null(text)


def silver_reviews(spark: Any, lake: Path) -> None:
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, MapType, StringType

    raw = spark.read.parquet(str(lake / "bronze" / "amazon_reviews")).where(F.col(CORRUPT).isNull())
    col = F.col
    overall = F.when(col("overall").rlike(_DECIMAL), F.trim(col("overall")).cast("double"))
    whole = overall.between(1, 5) & (F.floor(overall) == overall)
    word = F.lower(F.trim(col("verified")))
    verified = F.when(word == "true", True).when(word == "false", False)
    vote = F.when(
        col("vote").rlike(_GROUPED_INTEGER), F.regexp_replace(F.trim(col("vote")), ",", "")
    ).cast("long")
    unix = F.when(col("unixReviewTime").rlike(_INTEGER), F.trim("unixReviewTime")).cast("long")
    style_map = F.from_json(col("style"), MapType(StringType(), StringType()))
    image = F.from_json(col("image"), ArrayType(StringType()))
    asin, reviewer = F.trim(col("asin")), F.trim(col("reviewerID"))
    typed = raw.select(
        _blake2b_ids()(F.concat(reviewer, F.lit(REVIEW_ID_SEPARATOR), asin)).alias("review_id"),
        asin.alias("asin"),
        reviewer.alias("reviewerID"),
        "reviewerName",
        F.when(whole, overall).cast("int").alias("overall"),
        "reviewText",
        "summary",
        unix.alias("unixReviewTime"),
        "reviewTime",
        F.coalesce(
            F.to_date(F.timestamp_seconds(unix)),
            F.to_date(F.trim(col("reviewTime")), "MM d, yyyy"),
        ).alias("review_date"),
        verified.alias("verified"),
        vote.alias("vote"),
        F.to_json(style_map).alias("style"),
        image.alias("image"),
        "_partition",
        "_source_file",
        "_line",
        "_ingested_at",
        _reasons(
            [
                (F.coalesce(asin, F.lit("")) == "", F.lit("missing asin")),
                (F.coalesce(reviewer, F.lit("")) == "", F.lit("missing reviewerID")),
                (col("overall").isNull(), F.lit("missing overall")),
                (col("overall").isNotNull() & overall.isNull(), F.lit("overall not a number")),
                (overall.isNotNull() & ~whole, F.lit("overall out of range")),
                (col("verified").isNotNull() & verified.isNull(), F.lit("verified")),
                (col("vote").isNotNull() & vote.isNull(), F.lit("vote")),
                (col("style").isNotNull() & style_map.isNull(), F.lit("style")),
                (col("image").isNotNull() & image.isNull(), F.lit("image")),
                (col("unixReviewTime").isNotNull() & unix.isNull(), F.lit("unixReviewTime")),
            ]
        ).alias("reason"),
    ).persist(StorageLevel.MEMORY_AND_DISK)
    typed.where(col("reason") != "").write.mode("overwrite").parquet(
        str(lake / "silver" / "quarantine_reviews")
    )
    first = Window.partitionBy("review_id").orderBy(*_position())
    (
        typed.where(col("reason") == "")
        .drop("reason")
        .withColumn("_rank", F.row_number().over(first))
        .where(col("_rank") == 1)
        .drop("_rank")
        .write.mode("overwrite")
        .parquet(str(lake / "silver" / "amazon_reviews"))
    )
    typed.unpersist()


def silver_metadata(spark: Any, lake: Path) -> None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, MapType, StringType

    col = F.col
    raw = spark.read.parquet(str(lake / "bronze" / "amazon_metadata")).where(col(CORRUPT).isNull())
    lists = {name: F.from_json(col(name), ArrayType(StringType())) for name in LIST_FIELDS}
    first_category = lists["category"].getItem(0)

    def label(text: Any) -> Any:
        alts = [_empty_to_null(F.regexp_extract(text, _IMG_ALT, group)) for group in (1, 2)]
        return _strip_html(F.coalesce(*alts, text))

    groups = [_empty_to_null(F.regexp_extract(col("price"), PRICE_PATTERN, i)) for i in (1, 2)]
    first, second = (F.regexp_replace(g, ",", "").cast("double") for g in groups)
    low, high = F.least(first, second), F.greatest(first, second)
    blank = F.coalesce(F.trim(col("price")), F.lit("")) == ""
    rank_text = _strip_html(
        F.when(
            F.trim(col("rank")).startswith("["),
            F.from_json(col("rank"), ArrayType(StringType())).getItem(0),
        ).otherwise(col("rank"))
    )
    is_rank = rank_text.rlike(_RANK)
    rank_parts = F.split(rank_text, " in ", 2)
    details = F.from_json(col("details"), MapType(StringType(), StringType()))
    typed = raw.select(
        F.trim(col("asin")).alias("asin"),
        _strip_html(col("title")).alias("title"),
        _strip_html(col("brand")).alias("brand"),
        F.coalesce(label(col("main_cat")), label(first_category)).alias("main_cat"),
        F.transform(lists["category"], _unescape).alias("category"),
        F.when(second.isNull(), first).otherwise(F.round((low + high) / 2, 6)).alias("price"),
        low.alias("price_min"),
        high.alias("price_max"),
        col("price").alias("price_raw"),
        (~blank & first.isNull()).alias("price_invalid"),
        F.when(
            is_rank,
            F.regexp_replace(F.ltrim(rank_parts.getItem(0)), r"[>#, ]", "").cast("long"),
        ).alias("rank"),
        F.when(is_rank, F.regexp_replace(rank_parts.getItem(1), _SEE_TOP_SUFFIX, "")).alias(
            "rank_category"
        ),
        col("rank").alias("rank_raw"),
        *(lists[name].alias(name) for name in LIST_FIELDS if name != "category"),
        F.coalesce(F.to_json(details), col("details")).alias("details"),
        "date",
        "similar_item",
        "tech1",
        "tech2",
        "fit",
        "_partition",
        "_source_file",
        "_line",
        "_ingested_at",
        (F.coalesce(F.trim(col("asin")), F.lit("")) == "").alias("_bad"),
    )
    typed = typed.withColumn("main_cat", _canonical(typed, "main_cat"))
    latest = Window.partitionBy("asin").orderBy(*(key.desc() for key in _position()))
    (
        typed.where(~col("_bad"))
        .drop("_bad")
        .withColumn("_rank", F.row_number().over(latest))
        .where(col("_rank") == 1)
        .drop("_rank")
        .write.mode("overwrite")
        .parquet(str(lake / "silver" / "amazon_metadata"))
    )


GOLD_ENRICHED_SQL = r"""
WITH category_price AS (
    SELECT main_cat, avg(price) AS mean_price FROM silver_metadata
    WHERE price IS NOT NULL AND main_cat IS NOT NULL GROUP BY main_cat
),
global_price AS (SELECT avg(price) AS mean_price FROM silver_metadata WHERE price IS NOT NULL)
SELECT
    r.review_id, 'batch' AS source, r.asin, r.reviewerID AS reviewer_id,
    r.reviewerName AS reviewer_name, r.overall AS rating, r.summary,
    r.reviewText AS review_text, r.review_date,
    year(r.review_date) AS year, month(r.review_date) AS month,
    r.verified, r.vote AS votes, r.style,
    coalesce(size(r.image), 0) AS image_count,
    regexp_count(coalesce(r.reviewText, ''), '(?U)\\S+') AS review_words,
    m.asin IS NOT NULL AS has_metadata, m.title, m.brand, m.main_cat, m.category,
    m.price AS listed_price,
    coalesce(m.price, cp.mean_price, gp.mean_price) AS price,
    m.price IS NULL AND coalesce(cp.mean_price, gp.mean_price) IS NOT NULL AS price_imputed,
    m.rank AS sales_rank, m.rank_category AS sales_rank_category, r._ingested_at
FROM silver_reviews r
LEFT JOIN silver_metadata m ON m.asin = r.asin
LEFT JOIN category_price cp ON cp.main_cat = m.main_cat
CROSS JOIN global_price gp
"""
GOLD_AGGREGATES = {
    "product_summary": """
        SELECT asin, any_value(title) AS title, any_value(brand) AS brand,
               any_value(main_cat) AS main_cat, any_value(price) AS price,
               bool_or(price_imputed) AS price_imputed, count(*) AS reviews,
               avg(rating) AS avg_rating, avg(CAST(verified AS DOUBLE)) AS verified_share,
               count_if(source = 'batch') AS batch_reviews,
               count_if(source = 'stream') AS stream_reviews,
               min(review_date) AS first_review_date, max(review_date) AS last_review_date
        FROM reviews_enriched GROUP BY asin""",
    "category_monthly": """
        SELECT coalesce(main_cat, 'Unknown') AS main_cat, year, month, count(*) AS reviews,
               avg(rating) AS avg_rating, avg(CAST(verified AS DOUBLE)) AS verified_share,
               avg(price) AS avg_price
        FROM reviews_enriched GROUP BY 1, 2, 3""",
    "kpis": """
        SELECT count(*) AS reviews, count(DISTINCT reviewer_id) AS reviewers,
               count(DISTINCT asin) AS products, avg(rating) AS avg_rating,
               avg(CAST(verified AS DOUBLE)) AS verified_share,
               count_if(source = 'batch') AS batch_reviews,
               count_if(source = 'stream') AS stream_reviews,
               min(review_date) AS first_review_date, max(review_date) AS last_review_date
        FROM reviews_enriched""",
}


def gold(spark: Any, lake: Path) -> None:
    for name in ("amazon_reviews", "amazon_metadata"):
        view = name.replace("amazon_", "silver_")
        spark.read.parquet(str(lake / "silver" / name)).createOrReplaceTempView(view)
    spark.sql(GOLD_ENRICHED_SQL).write.mode("overwrite").parquet(
        str(lake / "gold" / "reviews_enriched")
    )
    spark.read.parquet(str(lake / "gold" / "reviews_enriched")).createOrReplaceTempView(
        "reviews_enriched"
    )
    for name, query in GOLD_AGGREGATES.items():
        spark.sql(query).write.mode("overwrite").parquet(str(lake / "gold" / name))


def run_pipeline(spark: Any, landing: Path, lake: Path) -> dict[str, Any]:
    """One run of bronze -> silver -> gold: seconds per layer, and its start and end (epoch)."""
    steps = [
        ("bronze", lambda: bronze(spark, landing, lake, "amazon_reviews", BRONZE_REVIEWS_COLUMNS)),
        (
            "bronze",
            lambda: bronze(spark, landing, lake, "amazon_metadata", BRONZE_METADATA_COLUMNS),
        ),
        ("silver", lambda: silver_reviews(spark, lake)),
        ("silver", lambda: silver_metadata(spark, lake)),
        ("gold", lambda: gold(spark, lake)),
    ]
    start, cpu_before = time.time(), tree_cpu_seconds()
    seconds: dict[str, float] = {}
    for layer, step in steps:
        step_started = time.perf_counter()
        step()
        seconds[layer] = seconds.get(layer, 0.0) + time.perf_counter() - step_started
    return {
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "pipeline_seconds": round(sum(seconds.values()), 3),
        "cpu_seconds": round(tree_cpu_seconds() - cpu_before, 2),
        "start": start,
        "end": time.time(),
    }


def tree_cpu_seconds() -> float:
    """CPU time (user + system) of this process and its children: the JVM, its Python workers."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def run_spark(landing: Path, work: Path, runs: int = 2) -> dict[str, Any]:
    """Seconds per layer of each run in one session (session start apart), and the rows of
    each output; the last run's lake is left for the comparison with paisa's."""
    lake = work / "spark_lake"
    started = time.perf_counter()
    spark = spark_session()
    session_start = time.perf_counter() - started
    timings = [run_pipeline(spark, landing, lake) for _ in range(runs)]
    rows = {
        f"{layer}.{name}": spark.read.parquet(str(lake / layer / name)).count()
        for layer, name in (
            ("bronze", "amazon_reviews"),
            ("bronze", "amazon_metadata"),
            ("silver", "amazon_reviews"),
            ("silver", "amazon_metadata"),
            ("gold", "reviews_enriched"),
            ("gold", "product_summary"),
        )
    }
    spark.stop()
    first, warm = timings[0], timings[-1]
    return {
        "seconds": first["seconds"] | {"session_start": round(session_start, 3)},
        "pipeline_seconds": first["pipeline_seconds"],
        "with_session_start_seconds": round(first["pipeline_seconds"] + session_start, 3),
        "warm_seconds": warm["seconds"],
        "warm_pipeline_seconds": warm["pipeline_seconds"],
        "cpu_seconds": first["cpu_seconds"],
        "warm_cpu_seconds": warm["cpu_seconds"],
        "runs": timings,
        "table_rows": rows,
        "lake": str(lake),
        "config": {
            "master": "local[2]",
            "driver_memory": DRIVER_MEMORY,
            "shuffle_partitions": SHUFFLE_PARTITIONS,
            "format": "parquet",
            "runs_in_one_session": runs,
            # Set only by the output-comparison test (a quicker JIT); benchmarks leave it unset.
            "java_tool_options": os.environ.get("JAVA_TOOL_OPTIONS"),
        },
    }
