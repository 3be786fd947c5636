"""What the dashboard shows, as plain data: DuckDB SQL over the lake's tables (no Dagster, no I/O).

Every function takes a DuckDB connection on which the relations of `SOURCES` are registered
(a table that does not exist yet is registered empty with the schema given there), so the page
renders the same way on a fresh lake, before the stream or the models have produced anything: an
empty result means "no data yet", never an error. Only the columns a panel needs are registered,
so no query streams review texts or event bodies it does not show.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from paisa_assets import registry
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_METADATA,
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_STREAMING,
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_MODEL_EVALUATIONS,
    GOLD_PRODUCT_SUMMARY,
    GOLD_RECOMMENDATIONS,
    GOLD_REVIEW_SENTIMENT,
    GOLD_REVIEWS_ENRICHED,
    SILVER_METADATA,
    SILVER_QUARANTINE,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
    UNION_VIEWS,
)

SENTIMENTS = ("negative", "neutral", "positive")
SENTIMENT_MODEL = "paisa-sentiment"
TOP_CATEGORIES = 10
TOP_BRANDS = 10
# The scatter of price against rating shows the most reviewed products only: a page with a
# point per product of a large catalogue would weigh megabytes and say nothing more.
MAX_PRICE_POINTS = 1_000
STREAM_WINDOW_HOURS = 48
RECOMMENDED_REVIEWERS = 3
RECOMMENDATIONS_SHOWN = 5
REVIEWED_SHOWN = 3
LATEST_REVIEWS = 5
QUARANTINE_EXAMPLES = 3  # recent rows shown per kind of quarantine reason
TIMESTAMP = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Source:
    """A relation the queries read: which table, and the columns (and types) they use."""

    table: str
    schema: pl.Schema


def source(table: str, *columns: str) -> Source:
    """The relation `table` (a table or a union view), projected to `columns`, with the types
    the registry declares for them."""
    declared = registry.table(UNION_VIEWS.get(table, (table,))[0]).polars_schema()
    return Source(table, pl.Schema({name: declared[name] for name in columns}))


SOURCES: dict[str, Source] = {
    "reviews": source(
        GOLD_REVIEWS_ENRICHED,
        "review_id",
        "source",
        "asin",
        "reviewer_id",
        "rating",
        "review_date",
        "year",
        "verified",
        "brand",
    ),
    "review_texts": source(
        GOLD_REVIEWS_ENRICHED,
        "review_id",
        "source",
        "asin",
        "rating",
        "review_date",
        "title",
        "summary",
        "review_text",
    ),
    "kpis": source(GOLD_KPIS, "reviews", "reviewers", "products", "avg_rating"),
    "products": source(
        GOLD_PRODUCT_SUMMARY,
        "asin",
        "title",
        "brand",
        "main_cat",
        "price",
        "price_imputed",
        "reviews",
        "avg_rating",
    ),
    "category_monthly": source(
        GOLD_CATEGORY_MONTHLY, "main_cat", "year", "month", "reviews", "avg_rating"
    ),
    "events": source(BRONZE_EH_STREAMING, "enqueued_time", "_ingested_at"),
    "bronze_quarantine": source(
        BRONZE_QUARANTINE, "dataset", "reason", "_source_file", "_line", "_ingested_at"
    ),
    "silver_quarantine": source(SILVER_QUARANTINE, "dataset", "reason", "_source_file", "_line"),
    "review_sentiment": source(
        GOLD_REVIEW_SENTIMENT, "review_id", "sentiment", "model_version", "scored_at"
    ),
    "model_evaluations": source(
        GOLD_MODEL_EVALUATIONS,
        "model",
        "version",
        "run_id",
        "trained_at",
        "is_champion",
        "metrics",
        "details",
    ),
    "recommendations": source(
        GOLD_RECOMMENDATIONS, "reviewer_id", "rank", "asin", "score", "reason"
    ),
}

# Row counts behind the duplicates panel: (dataset, bronze table, silver table). Counts come
# from Delta metadata (see the asset), not from scanning bronze.
RECONCILED_DATASETS = (
    ("amazon_reviews", BRONZE_REVIEWS, SILVER_REVIEWS),
    ("amazon_metadata", BRONZE_METADATA, SILVER_METADATA),
    ("reviews_streaming", BRONZE_REVIEWS_STREAMING, SILVER_REVIEWS_STREAMING),
)
# Where bronze.quarantine files a dataset's bad input: stream events fail to parse in the
# event table's step, so they are filed under it.
BRONZE_QUARANTINE_DATASET = {"reviews_streaming": "eh_streaming"}
COUNTED_TABLES = (
    *(table for _, bronze, silver in RECONCILED_DATASETS for table in (bronze, silver)),
    GOLD_REVIEWS_ENRICHED,
)


@dataclass(frozen=True)
class Kpis:
    reviews: int
    reviewers: int
    products: int
    avg_rating: float | None
    stream_events_last_hour: int
    last_event_at: datetime | None


@dataclass(frozen=True)
class YearStats:
    year: int
    reviews: int
    avg_rating: float


@dataclass(frozen=True)
class SentimentShare:
    """Reviews per sentiment; `model` is None when no gold review has a model score yet."""

    rating: dict[str, int]
    model: dict[str, int] | None


@dataclass(frozen=True)
class SentimentByYear:
    basis: str  # "model" or "rating"
    counts: dict[int, dict[str, int]]  # year -> sentiment -> reviews


@dataclass(frozen=True)
class BrandSentiment:
    basis: str
    positive: list[tuple[str, int]]
    negative: list[tuple[str, int]]


@dataclass(frozen=True)
class ProductPoint:
    asin: str
    title: str | None
    price: float
    avg_rating: float
    reviews: int


@dataclass(frozen=True)
class PriceRating:
    points: list[ProductPoint]
    priced_products: int  # products with a listed price, of which `points` are the most reviewed


@dataclass(frozen=True)
class StreamHour:
    hour: datetime
    events: int
    avg_lag_seconds: float
    max_lag_seconds: float


@dataclass(frozen=True)
class ModelEvaluation:
    version: int
    run_id: str | None
    trained_at: datetime | None
    is_champion: bool
    metrics: dict[str, float]
    roc_fpr: list[float] = field(default_factory=list)
    roc_tpr: list[float] = field(default_factory=list)
    confusion_labels: list[str] = field(default_factory=list)
    confusion_matrix: list[list[int]] = field(default_factory=list)


@dataclass(frozen=True)
class Recommendation:
    rank: int
    asin: str
    title: str | None
    score: float
    reason: str


@dataclass(frozen=True)
class ReviewedProduct:
    asin: str
    title: str | None
    rating: int


@dataclass(frozen=True)
class ReviewerRecommendations:
    reviewer_id: str
    reviewed: list[ReviewedProduct]
    items: list[Recommendation]


@dataclass(frozen=True)
class ReviewRow:
    review_id: str
    source: str
    review_date: Any
    rating: int
    title: str | None
    summary: str | None
    review_text: str | None
    sentiment: str | None


@dataclass(frozen=True)
class QuarantineReason:
    layer: str
    dataset: str
    reason: str
    rows: int


@dataclass(frozen=True)
class QuarantineExample:
    """One recent quarantined row of a kind of reason, to show what the rule caught."""

    kind: str
    layer: str
    dataset: str
    source: str | None  # the landing file (or event) the row came from
    line: int | None
    reason: str  # the full reason, positions and values included


@dataclass(frozen=True)
class Reconciliation:
    """bronze = silver + quarantined + duplicates dropped, as the reconciliation check proves."""

    dataset: str
    bad_input: int  # lines (or events) that never reached bronze: bronze.quarantine
    bronze: int
    silver: int
    quarantined: int
    duplicates: int


@dataclass(frozen=True)
class DataQuality:
    reasons: list[QuarantineReason]
    quarantined_rows: dict[tuple[str, str], int]  # (layer, dataset) -> rows
    examples: list[QuarantineExample]
    reconciliation: list[Reconciliation]
    cross_source_duplicates: int | None  # reviews both in the batch files and on the stream


@dataclass(frozen=True)
class DashboardData:
    generated_at: datetime
    kpis: Kpis
    ratings: dict[int, int]
    ratings_by_verified: dict[bool, dict[int, int]]
    years: list[YearStats]
    categories: list[tuple[str, int]]
    sentiment_share: SentimentShare
    sentiment_by_year: SentimentByYear
    brands: BrandSentiment
    price_rating: PriceRating
    stream: list[StreamHour]
    model: ModelEvaluation | None
    recommendations: list[ReviewerRecommendations]
    latest_reviews: list[ReviewRow]
    quality: DataQuality


def register(
    con: duckdb.DuckDBPyConnection,
    relations: Mapping[str, Any | None],
    only: Sequence[str] | None = None,
) -> None:
    """Register each relation of SOURCES (or of `only` of them): the given Arrow-compatible
    object (an `ArrowStream`, a Polars or Arrow frame), or an empty frame of the source's schema
    when it is None (the table does not exist yet). A relation left out of `relations` is
    registered empty too."""
    for name, source in SOURCES.items():
        if only is not None and name not in only:
            continue
        relation = relations.get(name)
        if relation is None:
            relation = pl.DataFrame(schema=source.schema).to_arrow()
        con.register(name, relation)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def _first(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """The first row, with the result fully consumed (DuckDB keeps an unfinished result open
    and refuses to register a relation on the connection until it is)."""
    rows = _rows(con, sql, params)
    return rows[0] if rows else None


def stream_kpis(con: duckdb.DuckDBPyConnection, now: datetime) -> tuple[int, datetime | None]:
    """(events enqueued in the hour before `now`, the last enqueued time). Input: `events`."""
    (row,) = _rows(
        con,
        "SELECT count(*) FILTER (WHERE enqueued_time > ? AND enqueued_time <= ?), "
        "max(enqueued_time) FROM events",
        [now - timedelta(hours=1), now],
    )
    return int(row[0]), row[1]


def kpis(con: duckdb.DuckDBPyConnection, now: datetime) -> Kpis:
    """The headline tiles: gold.kpis as is (the page shows the table's own numbers), and the
    stream's activity. Inputs: `kpis`, `events`."""
    row = _first(con, "SELECT reviews, reviewers, products, avg_rating FROM kpis")
    reviews, reviewers, products, avg_rating = row if row else (0, 0, 0, None)
    last_hour, last_event = stream_kpis(con, now)
    return Kpis(
        reviews=int(reviews or 0),
        reviewers=int(reviewers or 0),
        products=int(products or 0),
        avg_rating=None if avg_rating is None else float(avg_rating),
        stream_events_last_hour=last_hour,
        last_event_at=last_event,
    )


def ratings_by_verified(con: duckdb.DuckDBPyConnection) -> dict[bool, dict[int, int]]:
    """Reviews per star (1..5, zeros included) for verified and unverified purchases (a review
    without the flag counts as unverified). Input: `reviews`."""
    counts: dict[bool, dict[int, int]] = {True: dict.fromkeys(range(1, 6), 0)}
    counts[False] = dict.fromkeys(range(1, 6), 0)
    for rating, verified, reviews in _rows(
        con,
        "SELECT rating, coalesce(verified, false), count(*) FROM reviews "
        "WHERE rating BETWEEN 1 AND 5 GROUP BY ALL",
    ):
        counts[bool(verified)][int(rating)] += int(reviews)
    return counts


def ratings_histogram(by_verified: Mapping[bool, Mapping[int, int]]) -> dict[int, int]:
    return {star: sum(group[star] for group in by_verified.values()) for star in range(1, 6)}


def rating_sentiment(histogram: Mapping[int, int]) -> dict[str, int]:
    """1-2 stars negative, 3 neutral, 4-5 positive."""
    return {
        "negative": histogram.get(1, 0) + histogram.get(2, 0),
        "neutral": histogram.get(3, 0),
        "positive": histogram.get(4, 0) + histogram.get(5, 0),
    }


def years(con: duckdb.DuckDBPyConnection) -> list[YearStats]:
    """Reviews and average rating per review year (undated reviews left out).
    Input: `category_monthly`, whose per-category means are weighted back by their counts."""
    return [
        YearStats(int(year), int(reviews), float(avg))
        for year, reviews, avg in _rows(
            con,
            "SELECT year, sum(reviews), sum(avg_rating * reviews) / sum(reviews) "
            "FROM category_monthly WHERE year IS NOT NULL GROUP BY year ORDER BY year",
        )
    ]


def top_categories(
    con: duckdb.DuckDBPyConnection, limit: int = TOP_CATEGORIES
) -> list[tuple[str, int]]:
    """The main categories with the most reviews. Input: `category_monthly`."""
    return [
        (str(cat), int(n))
        for cat, n in _rows(
            con,
            "SELECT main_cat, sum(reviews) AS n FROM category_monthly "
            "GROUP BY main_cat ORDER BY n DESC, main_cat LIMIT ?",
            [limit],
        )
    ]


# The model's label per gold review: one row per review_id (the newest model version wins if
# the table ever holds several), labels normalised to lower case.
_SCORED = """
scored AS (
    SELECT review_id, lower(sentiment) AS sentiment FROM review_sentiment
    QUALIFY row_number() OVER (
        PARTITION BY review_id ORDER BY model_version DESC NULLS LAST, scored_at DESC NULLS LAST
    ) = 1
)
"""
_RATING_SENTIMENT = (
    "CASE WHEN rating <= 2 THEN 'negative' WHEN rating = 3 THEN 'neutral' ELSE 'positive' END"
)


def model_sentiment_share(con: duckdb.DuckDBPyConnection) -> dict[str, int] | None:
    """Gold reviews per model label, or None when none is scored.
    Inputs: `reviews`, `review_sentiment`."""
    rows = _rows(
        con,
        f"WITH {_SCORED} SELECT s.sentiment, count(*) FROM reviews r "
        "JOIN scored s USING (review_id) GROUP BY ALL",
    )
    if not rows:
        return None
    share = dict.fromkeys(SENTIMENTS, 0)
    for sentiment, n in rows:
        if sentiment in share:
            share[sentiment] += int(n)
    return share


def _labelled_reviews(model: bool) -> str:
    """A `labelled` CTE: reviews with the sentiment the page uses (the model's, else rating's)."""
    if model:
        return (
            f"WITH {_SCORED}, labelled AS (SELECT r.*, s.sentiment FROM reviews r "
            "JOIN scored s USING (review_id))"
        )
    return f"WITH labelled AS (SELECT *, {_RATING_SENTIMENT} AS sentiment FROM reviews)"


def sentiment_by_year(con: duckdb.DuckDBPyConnection, model: bool) -> SentimentByYear:
    """Reviews per year and sentiment, by the model's labels when `model`, else by rating.
    Inputs: `reviews`, `review_sentiment`."""
    counts: dict[int, dict[str, int]] = {}
    for year, sentiment, n in _rows(
        con,
        f"{_labelled_reviews(model)} SELECT year, sentiment, count(*) FROM labelled "
        "WHERE year IS NOT NULL AND rating BETWEEN 1 AND 5 GROUP BY ALL ORDER BY year",
    ):
        if sentiment in SENTIMENTS:
            counts.setdefault(int(year), dict.fromkeys(SENTIMENTS, 0))[sentiment] += int(n)
    return SentimentByYear("model" if model else "rating", counts)


def brand_sentiment(
    con: duckdb.DuckDBPyConnection, model: bool, limit: int = TOP_BRANDS
) -> BrandSentiment:
    """The brands with the most positive and the most negative reviews.
    Inputs: `reviews`, `review_sentiment`."""

    def top(label: str) -> list[tuple[str, int]]:
        return [
            (str(brand), int(n))
            for brand, n in _rows(
                con,
                f"{_labelled_reviews(model)} SELECT brand, count(*) AS n FROM labelled "
                "WHERE brand IS NOT NULL AND sentiment = ? AND rating BETWEEN 1 AND 5 "
                "GROUP BY brand ORDER BY n DESC, brand LIMIT ?",
                [label, limit],
            )
        ]

    return BrandSentiment("model" if model else "rating", top("positive"), top("negative"))


def price_rating(con: duckdb.DuckDBPyConnection, limit: int = MAX_PRICE_POINTS) -> PriceRating:
    """Products with a listed (not imputed) price: the most reviewed, with their mean rating.
    Input: `products`."""
    priced = "price IS NOT NULL AND NOT coalesce(price_imputed, false) AND avg_rating IS NOT NULL"
    (total,) = _first(con, f"SELECT count(*) FROM products WHERE {priced}") or (0,)
    points = [
        ProductPoint(str(asin), title, float(price), float(avg), int(n))
        for asin, title, price, avg, n in _rows(
            con,
            f"SELECT asin, title, price, avg_rating, reviews FROM products WHERE {priced} "
            "ORDER BY reviews DESC, asin LIMIT ?",
            [limit],
        )
    ]
    return PriceRating(points, int(total))


def stream_freshness(
    con: duckdb.DuckDBPyConnection, hours: int = STREAM_WINDOW_HOURS
) -> list[StreamHour]:
    """Events per enqueued hour over the last `hours` hours of the stream, with the ingestion lag
    (seconds from enqueued on the hub to landed in bronze). Input: `events`."""
    return [
        StreamHour(hour, int(n), float(avg_lag), float(max_lag))
        for hour, n, avg_lag, max_lag in _rows(
            con,
            """
            WITH last AS (SELECT max(enqueued_time) AS t FROM events)
            SELECT date_trunc('hour', e.enqueued_time) AS hour, count(*),
                   avg(epoch(e._ingested_at) - epoch(e.enqueued_time)),
                   max(epoch(e._ingested_at) - epoch(e.enqueued_time))
            FROM events e, last
            WHERE e.enqueued_time > last.t - to_hours(CAST(? AS BIGINT))
            GROUP BY hour ORDER BY hour
            """,
            [hours],
        )
    ]


def _json_object(text: str | None) -> dict[str, Any]:
    """A JSON object column's value, or {} when it is absent or malformed (a panel degrades to
    "not recorded" rather than failing the whole page)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _floats(values: Any) -> list[float]:
    if not isinstance(values, list):
        return []
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return []


def model_evaluation(
    con: duckdb.DuckDBPyConnection, model: str = SENTIMENT_MODEL
) -> ModelEvaluation | None:
    """The champion evaluation of `model` (else its latest version), with its ROC curve and
    confusion matrix from `details`. Input: `model_evaluations`."""
    row = _first(
        con,
        "SELECT version, run_id, trained_at, coalesce(is_champion, false), metrics, details "
        "FROM model_evaluations WHERE model = ? "
        "ORDER BY is_champion DESC NULLS LAST, version DESC, trained_at DESC NULLS LAST LIMIT 1",
        [model],
    )
    if row is None:
        return None
    version, run_id, trained_at, champion, metrics_text, details_text = row
    metrics = {}
    for name, value in _json_object(metrics_text).items():
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            metrics[str(name)] = float(value)
    details = _json_object(details_text)
    roc = details.get("roc_curve") if isinstance(details.get("roc_curve"), dict) else {}
    fpr, tpr = _floats(roc.get("fpr")), _floats(roc.get("tpr"))
    if len(fpr) != len(tpr):
        fpr, tpr = [], []
    confusion = details.get("confusion_matrix")
    confusion = confusion if isinstance(confusion, dict) else {}
    labels = [str(label) for label in confusion.get("labels") or []]
    matrix = confusion.get("matrix") or []
    try:
        matrix = [[int(v) for v in line] for line in matrix]
    except (TypeError, ValueError):
        matrix = []
    if len(matrix) != len(labels) or any(len(line) != len(labels) for line in matrix):
        labels, matrix = [], []
    return ModelEvaluation(
        version=int(version),
        run_id=run_id,
        trained_at=trained_at,
        is_champion=bool(champion),
        metrics=metrics,
        roc_fpr=fpr,
        roc_tpr=tpr,
        confusion_labels=labels,
        confusion_matrix=matrix,
    )


def recommendation_examples(
    con: duckdb.DuckDBPyConnection,
    reviewers: int = RECOMMENDED_REVIEWERS,
    shown: int = RECOMMENDATIONS_SHOWN,
    reviewed_shown: int = REVIEWED_SHOWN,
) -> list[ReviewerRecommendations]:
    """A few reviewers' top recommendations beside what they reviewed: reviewers with personal
    recommendations first, then the most active, ties by id (the same reviewers on every build).
    Inputs: `recommendations`, `reviews`, `products`."""
    picked = [
        str(r)
        for (r,) in _rows(
            con,
            """
            WITH recommended AS (
                SELECT reviewer_id, bool_or(reason = 'personal') AS personal
                FROM recommendations GROUP BY reviewer_id
            ),
            activity AS (SELECT reviewer_id, count(*) AS n FROM reviews GROUP BY reviewer_id)
            SELECT r.reviewer_id FROM recommended r LEFT JOIN activity a USING (reviewer_id)
            ORDER BY r.personal DESC, coalesce(a.n, 0) DESC, r.reviewer_id LIMIT ?
            """,
            [reviewers],
        )
    ]
    if not picked:
        return []
    items: dict[str, list[Recommendation]] = {r: [] for r in picked}
    for reviewer, rank, asin, title, score, reason in _rows(
        con,
        """
        SELECT r.reviewer_id, r.rank, r.asin, p.title, r.score, r.reason
        FROM recommendations r LEFT JOIN products p USING (asin)
        WHERE list_contains(?, r.reviewer_id)
        QUALIFY row_number() OVER (PARTITION BY r.reviewer_id ORDER BY r.rank, r.asin) <= ?
        ORDER BY r.reviewer_id, r.rank, r.asin
        """,
        [picked, shown],
    ):
        items[reviewer].append(
            Recommendation(int(rank), str(asin), title, float(score or 0.0), str(reason))
        )
    reviewed: dict[str, list[ReviewedProduct]] = {r: [] for r in picked}
    for reviewer, asin, title, rating in _rows(
        con,
        """
        SELECT r.reviewer_id, r.asin, p.title, r.rating
        FROM reviews r LEFT JOIN products p USING (asin)
        WHERE list_contains(?, r.reviewer_id)
        QUALIFY row_number() OVER (
            PARTITION BY r.reviewer_id ORDER BY r.review_date DESC NULLS LAST, r.asin
        ) <= ?
        ORDER BY r.reviewer_id, r.review_date DESC NULLS LAST, r.asin
        """,
        [picked, reviewed_shown],
    ):
        reviewed[reviewer].append(ReviewedProduct(str(asin), title, int(rating)))
    return [ReviewerRecommendations(r, reviewed[r], items[r]) for r in picked]


def latest_reviews(con: duckdb.DuckDBPyConnection, limit: int = LATEST_REVIEWS) -> list[ReviewRow]:
    """The newest reviews with their product title and model label (the texts readers see).
    Inputs: `review_texts`, `review_sentiment`."""
    return [
        ReviewRow(*row)
        for row in _rows(
            con,
            f"""
            WITH {_SCORED}
            SELECT t.review_id, t.source, t.review_date, t.rating, t.title, t.summary,
                   t.review_text, s.sentiment
            FROM (
                SELECT * FROM review_texts
                ORDER BY review_date DESC NULLS LAST, review_id LIMIT ?
            ) t LEFT JOIN scored s USING (review_id)
            ORDER BY t.review_date DESC NULLS LAST, t.review_id
            """,
            [limit],
        )
    ]


# The kind of a quarantine rule: its text before ": " with the positions and sizes it quotes
# taken out, so "unreadable file after line 12" and "... after line 0" are one kind.
_POSITION = r"\s+(after line [0-9,]+|from its start|at byte [0-9,]+)"


def reason_kind_sql(rule: str) -> str:
    """SQL for the kind of one rule (one `; `-separated part of a reason)."""
    head = f"trim(split_part({rule}, ': ', 1))"
    return (
        f"CASE WHEN regexp_matches({rule}, '^line of [0-9,]+ bytes exceeds') "
        "THEN 'line exceeds the size limit' "
        f"ELSE regexp_replace({head}, '{_POSITION}', '', 'g') END"
    )


_RULES = f"""
    WITH q AS (
        SELECT 'bronze' AS layer, dataset, reason, _source_file, _line,
               _ingested_at AS quarantined_at FROM bronze_quarantine
        UNION ALL
        SELECT 'silver' AS layer, dataset, reason, _source_file, _line,
               NULL::TIMESTAMPTZ AS quarantined_at FROM silver_quarantine
    ),
    parts AS (
        SELECT *, trim(unnest(string_split(coalesce(reason, 'unknown'), '; '))) AS rule FROM q
    ),
    rules AS (
        SELECT layer, coalesce(dataset, '?') AS dataset, reason, _source_file, _line,
               quarantined_at, {reason_kind_sql("rule")} AS kind
        FROM parts WHERE rule <> ''
    )
"""


def quarantine_reasons(con: duckdb.DuckDBPyConnection) -> list[QuarantineReason]:
    """Quarantined rows per layer, dataset and kind of reason. A reason is "kind: detail" (the
    kind without the positions it quotes, see `reason_kind_sql`), and a row breaking several
    rules lists them all ("a; b"), so each rule is counted once per row it quarantined.
    Inputs: `bronze_quarantine`, `silver_quarantine`."""
    return [
        QuarantineReason(layer, dataset, kind, int(n))
        for layer, dataset, kind, n in _rows(
            con,
            f"""{_RULES}
            SELECT layer, dataset, kind, count(*) AS n FROM rules WHERE kind <> ''
            GROUP BY ALL ORDER BY n DESC, layer, dataset, kind
            """,
        )
    ]


def quarantine_examples(
    con: duckdb.DuckDBPyConnection, per_kind: int = QUARANTINE_EXAMPLES
) -> list[QuarantineExample]:
    """The most recent rows of each kind of reason (latest ingestion first, then the latest
    position), most frequent kind first. Inputs: `bronze_quarantine`, `silver_quarantine`."""
    return [
        QuarantineExample(kind, layer, dataset, source, None if line is None else int(line), why)
        for kind, layer, dataset, source, line, why in _rows(
            con,
            f"""{_RULES},
            ranked AS (
                SELECT *, count(*) OVER (PARTITION BY kind) AS n,
                       row_number() OVER (
                           PARTITION BY kind
                           ORDER BY quarantined_at DESC NULLS LAST, _source_file DESC NULLS LAST,
                                    _line DESC NULLS LAST
                       ) AS recent
                FROM rules WHERE kind <> ''
            )
            SELECT kind, layer, dataset, _source_file, _line, reason FROM ranked
            WHERE recent <= ? ORDER BY n DESC, kind, recent
            """,
            [per_kind],
        )
    ]


def quarantined_rows(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    """Quarantined rows per (layer, dataset). Inputs: `bronze_quarantine`, `silver_quarantine`."""
    return {
        (layer, dataset): int(n)
        for layer, dataset, n in _rows(
            con,
            "SELECT 'bronze', dataset, count(*) FROM bronze_quarantine GROUP BY ALL "
            "UNION ALL SELECT 'silver', dataset, count(*) FROM silver_quarantine GROUP BY ALL",
        )
    }


def reconciliation(
    table_rows: Mapping[str, int | None], quarantined: Mapping[tuple[str, str], int]
) -> list[Reconciliation]:
    """Duplicates dropped per dataset: bronze - silver - rows silver quarantined (the
    `reconciles_with_bronze` check proves the equation on every run). A dataset whose bronze
    table does not exist yet is left out."""
    rows = []
    for dataset, bronze_table, silver_table in RECONCILED_DATASETS:
        bronze = table_rows.get(bronze_table)
        if bronze is None:
            continue
        silver = table_rows.get(silver_table) or 0
        held_back = quarantined.get(("silver", dataset), 0)
        bad_input = quarantined.get(("bronze", BRONZE_QUARANTINE_DATASET.get(dataset, dataset)), 0)
        rows.append(
            Reconciliation(
                dataset, bad_input, bronze, silver, held_back, bronze - silver - held_back
            )
        )
    return rows


def cross_source_duplicates(table_rows: Mapping[str, int | None]) -> int | None:
    """Reviews in both the batch files and the stream: gold keeps one copy (the batch one)."""
    gold = table_rows.get(GOLD_REVIEWS_ENRICHED)
    if gold is None:
        return None
    return (
        (table_rows.get(SILVER_REVIEWS) or 0)
        + (table_rows.get(SILVER_REVIEWS_STREAMING) or 0)
        - gold
    )


def data_quality(
    con: duckdb.DuckDBPyConnection, table_rows: Mapping[str, int | None]
) -> DataQuality:
    """`table_rows`: rows of each of COUNTED_TABLES, None for a table that does not exist."""
    quarantined = quarantined_rows(con)
    return DataQuality(
        reasons=quarantine_reasons(con),
        quarantined_rows=quarantined,
        examples=quarantine_examples(con),
        reconciliation=reconciliation(table_rows, quarantined),
        cross_source_duplicates=cross_source_duplicates(table_rows),
    )


def collect(
    con: duckdb.DuckDBPyConnection, now: datetime, table_rows: Mapping[str, int | None]
) -> DashboardData:
    """Everything the page shows, as of `now` (the stream's "last hour" ends there)."""
    by_verified = ratings_by_verified(con)
    histogram = ratings_histogram(by_verified)
    model_share = model_sentiment_share(con)
    use_model = model_share is not None
    return DashboardData(
        generated_at=now,
        kpis=kpis(con, now),
        ratings=histogram,
        ratings_by_verified=by_verified,
        years=years(con),
        categories=top_categories(con),
        sentiment_share=SentimentShare(rating_sentiment(histogram), model_share),
        sentiment_by_year=sentiment_by_year(con, use_model),
        brands=brand_sentiment(con, use_model),
        price_rating=price_rating(con),
        stream=stream_freshness(con),
        model=model_evaluation(con),
        recommendations=recommendation_examples(con),
        latest_reviews=latest_reviews(con),
        quality=data_quality(con, table_rows),
    )
