"""The dashboard: exact figures from tiny tables, escaping, and the real page in headless
Chromium after a run of the whole graph through Dagster (with and without the stream and the
model tables)."""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance

from paisa_assets.dashboard import charts, queries
from paisa_assets.dashboard.render import plotly_js, render_page, script_json
from paisa_assets.generator.stream import generated_payloads
from paisa_assets.lake_views import count_view
from paisa_assets.resources.dashboard_site import DashboardSite
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.runner import sync_partitions
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_METADATA,
    BRONZE_REVIEWS,
    GOLD_KPIS,
    GOLD_MODEL_EVALUATIONS,
    GOLD_RECOMMENDATIONS,
    GOLD_RECOMMENDER_EVALUATIONS,
    GOLD_REVIEW_SENTIMENT,
    GOLD_REVIEWS_ENRICHED,
    GOLD_SENTIMENT_EVALUATIONS,
    GOLD_SIMILAR_PRODUCTS,
    SILVER_METADATA,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets_tests.conftest import Workspace, make_workspace, materialize_all, product, review
from paisa_assets_tests.support.chromium import Chromium, chromium_executable

# One pytest-xdist worker runs this module: its tests share a module-scoped fixture.
pytestmark = pytest.mark.xdist_group("test_dashboard")

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=2">'
BRAND_SCRIPT = "<script>window.__xss=3</script>"
DASHBOARD = AssetKey(["dashboard"])
TS = pl.Datetime("us", "UTC")


# --- pure queries on tiny tables -------------------------------------------------------------


def frame(source: str, rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=queries.SOURCES[source].schema, orient="row")


def tiny_relations() -> dict[str, pl.DataFrame]:
    reviews = [
        ("r1", "batch", "A1", "U1", 5, date(2019, 5, 1), 2019, True, "Acme"),
        ("r2", "batch", "A1", "U2", 4, date(2019, 6, 1), 2019, False, "Acme"),
        ("r3", "batch", "A2", "U1", 1, date(2020, 1, 1), 2020, True, "Bolt"),
        ("r4", "stream", "A2", "U3", 3, date(2020, 2, 1), 2020, None, "Bolt"),
        ("r5", "batch", "A3", "U2", 2, date(2021, 3, 1), 2021, True, None),
    ]
    names = queries.SOURCES["reviews"].schema.names()
    text_rows = [
        {
            "review_id": r[0],
            "source": r[1],
            "asin": r[2],
            "rating": r[4],
            "review_date": r[5],
            "title": f"title {r[2]}",
            "summary": "s",
            "review_text": SCRIPT if r[0] == "r5" else "fine",
        }
        for r in reviews
    ]
    evaluation_details = {
        "roc_curve": {"fpr": [0, 0.2, 1], "tpr": [0, 0.8, 1]},
        "confusion_matrix": {"labels": ["negative", "positive"], "matrix": [[5, 1], [2, 9]]},
    }
    return {
        "reviews": pl.DataFrame(
            [dict(zip(names, r, strict=True)) for r in reviews],
            schema=queries.SOURCES["reviews"].schema,
        ),
        "review_texts": pl.DataFrame(text_rows, schema=queries.SOURCES["review_texts"].schema),
        "kpis": frame("kpis", [{"reviews": 5, "reviewers": 3, "products": 3, "avg_rating": 3.0}]),
        "products": frame(
            "products",
            [
                {
                    "asin": "A1",
                    "title": "<b>One</b>",
                    "price": 10.0,
                    "price_imputed": False,
                    "reviews": 2,
                    "avg_rating": 4.5,
                },
                {
                    "asin": "A2",
                    "title": "Two",
                    "price": 20.0,
                    "price_imputed": True,
                    "reviews": 2,
                    "avg_rating": 2.0,
                },
                {
                    "asin": "A3",
                    "title": "Three",
                    "price": None,
                    "price_imputed": False,
                    "reviews": 1,
                    "avg_rating": 2.0,
                },
            ],
        ),
        "category_monthly": frame(
            "category_monthly",
            [
                {"main_cat": "Toys", "year": 2019, "month": 5, "reviews": 2, "avg_rating": 4.5},
                {"main_cat": "Toys", "year": 2020, "month": 1, "reviews": 1, "avg_rating": 1.0},
                {"main_cat": "Books", "year": 2020, "month": 2, "reviews": 1, "avg_rating": 3.0},
                {"main_cat": "Books", "year": None, "month": None, "reviews": 3, "avg_rating": 5.0},
            ],
        ),
        "events": frame(
            "events",
            [
                {
                    "enqueued_time": NOW - timedelta(minutes=10),
                    "_ingested_at": NOW - timedelta(minutes=10) + timedelta(seconds=5),
                },
                {
                    "enqueued_time": NOW - timedelta(minutes=50),
                    "_ingested_at": NOW - timedelta(minutes=50) + timedelta(seconds=15),
                },
                {
                    "enqueued_time": NOW - timedelta(hours=2),
                    "_ingested_at": NOW - timedelta(hours=2) + timedelta(seconds=60),
                },
            ],
        ),
        "bronze_quarantine": frame(
            "bronze_quarantine",
            [
                {"dataset": "amazon_reviews", "reason": "invalid JSON: unexpected character"},
                {"dataset": "amazon_reviews", "reason": "invalid JSON: unexpected end"},
            ],
        ),
        "silver_quarantine": frame(
            "silver_quarantine",
            [
                {"dataset": "amazon_reviews", "reason": "missing asin; overall out of range: 7"},
                {"dataset": "amazon_reviews", "reason": "missing asin"},
                {"dataset": "amazon_metadata", "reason": "missing asin"},
            ],
        ),
        "review_sentiment": frame(
            "review_sentiment",
            [
                {"review_id": "r1", "sentiment": "positive", "model_version": 2},
                {"review_id": "r2", "sentiment": "positive", "model_version": 2},
                {"review_id": "r3", "sentiment": "negative", "model_version": 2},
                {"review_id": "r4", "sentiment": "Neutral", "model_version": 2},
                {"review_id": "r5", "sentiment": "positive", "model_version": 1},
                {"review_id": "r5", "sentiment": "negative", "model_version": 2},
                {"review_id": "gone", "sentiment": "positive", "model_version": 2},
            ],
        ),
        "model_evaluations": frame(
            "model_evaluations",
            [
                {
                    "model": "paisa-sentiment",
                    "version": 1,
                    "run_id": "a",
                    "is_champion": True,
                    "metrics": json.dumps({"roc_auc": 0.9, "accuracy": 0.8, "note": "x"}),
                    "details": json.dumps(evaluation_details),
                },
                {
                    "model": "paisa-sentiment",
                    "version": 2,
                    "run_id": "b",
                    "is_champion": False,
                    "metrics": "{not json",
                    "details": None,
                },
                {
                    "model": "paisa-recommender",
                    "version": 7,
                    "run_id": "c",
                    "is_champion": True,
                    "metrics": "{}",
                    "details": "{}",
                },
            ],
        ),
        "recommendations": frame(
            "recommendations",
            [
                {"reviewer_id": "U3", "rank": 1, "asin": "A1", "score": 0.5, "reason": "popular"},
                {"reviewer_id": "U2", "rank": 1, "asin": "A2", "score": 0.9, "reason": "personal"},
                {"reviewer_id": "U1", "rank": 2, "asin": "A3", "score": 0.7, "reason": "personal"},
                {"reviewer_id": "U1", "rank": 1, "asin": "A1", "score": 0.8, "reason": "personal"},
            ],
        ),
    }


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        queries.register(connection, tiny_relations())
        yield connection


TABLE_ROWS = {
    BRONZE_REVIEWS: 10,
    SILVER_REVIEWS: 7,
    BRONZE_METADATA: 4,
    SILVER_METADATA: 3,
    SILVER_REVIEWS_STREAMING: 3,
    GOLD_REVIEWS_ENRICHED: 9,
}


def test_kpis_come_from_gold_kpis_and_the_stream(con) -> None:
    assert queries.kpis(con, NOW) == queries.Kpis(
        reviews=5,
        reviewers=3,
        products=3,
        avg_rating=3.0,
        stream_events_last_hour=2,
        last_event_at=NOW - timedelta(minutes=10),
    )


def test_ratings_years_and_categories(con) -> None:
    by_verified = queries.ratings_by_verified(con)
    assert by_verified == {
        True: {1: 1, 2: 1, 3: 0, 4: 0, 5: 1},
        False: {1: 0, 2: 0, 3: 1, 4: 1, 5: 0},  # a review without the flag counts as unverified
    }
    histogram = queries.ratings_histogram(by_verified)
    assert histogram == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1}
    assert queries.rating_sentiment(histogram) == {"negative": 2, "neutral": 1, "positive": 2}
    assert queries.years(con) == [
        queries.YearStats(2019, 2, pytest.approx(4.5)),
        queries.YearStats(2020, 2, pytest.approx(2.0)),  # weighted by each category's reviews
    ]
    assert queries.top_categories(con) == [("Books", 4), ("Toys", 3)]
    assert queries.top_categories(con, limit=1) == [("Books", 4)]


def test_sentiment_uses_the_newest_model_label_of_gold_reviews_only(con) -> None:
    assert queries.model_sentiment_share(con) == {"negative": 2, "neutral": 1, "positive": 2}
    by_year = queries.sentiment_by_year(con, model=True)
    assert by_year.basis == "model"
    assert by_year.counts == {
        2019: {"negative": 0, "neutral": 0, "positive": 2},
        2020: {"negative": 1, "neutral": 1, "positive": 0},
        2021: {"negative": 1, "neutral": 0, "positive": 0},
    }
    by_rating = queries.sentiment_by_year(con, model=False)
    assert by_rating.counts[2020] == {"negative": 1, "neutral": 1, "positive": 0}
    brands = queries.brand_sentiment(con, model=True)
    assert (brands.positive, brands.negative) == ([("Acme", 2)], [("Bolt", 1)])


def test_sentiment_without_model_scores(con) -> None:
    empty = pl.DataFrame(schema=queries.SOURCES["review_sentiment"].schema)
    con.register("review_sentiment", empty)
    assert queries.model_sentiment_share(con) is None
    data = queries.collect(con, NOW, TABLE_ROWS)
    assert data.sentiment_share.model is None
    assert data.sentiment_by_year.basis == data.brands.basis == "rating"
    assert data.brands.positive == [("Acme", 2)]


def test_price_rating_keeps_listed_prices_only(con) -> None:
    prices = queries.price_rating(con)
    assert prices.priced_products == 1
    assert prices.points == [queries.ProductPoint("A1", "<b>One</b>", 10.0, 4.5, 2)]


def test_stream_freshness_per_hour(con) -> None:
    assert queries.stream_freshness(con) == [
        queries.StreamHour(datetime(2026, 1, 1, 10, tzinfo=UTC), 1, 60.0, 60.0),
        queries.StreamHour(datetime(2026, 1, 1, 11, tzinfo=UTC), 2, 10.0, 15.0),
    ]
    assert queries.stream_freshness(con, hours=1) == [
        queries.StreamHour(datetime(2026, 1, 1, 11, tzinfo=UTC), 2, 10.0, 15.0)
    ]


def test_model_evaluation_prefers_the_champion_and_tolerates_bad_json(con) -> None:
    model = queries.model_evaluation(con)
    assert model is not None
    assert (model.version, model.run_id, model.is_champion) == (1, "a", True)
    assert model.metrics == {"roc_auc": 0.9, "accuracy": 0.8}  # the text value is left out
    assert (model.roc_fpr, model.roc_tpr) == ([0.0, 0.2, 1.0], [0.0, 0.8, 1.0])
    assert model.confusion_labels == ["negative", "positive"]
    assert model.confusion_matrix == [[5, 1], [2, 9]]
    evaluations = tiny_relations()["model_evaluations"]
    con.register("model_evaluations", evaluations.with_columns(is_champion=pl.lit(False)))
    latest = queries.model_evaluation(con)
    assert latest is not None and (latest.version, latest.metrics, latest.roc_fpr) == (2, {}, [])
    assert queries.model_evaluation(con, "unknown") is None


def test_recommendation_examples(con) -> None:
    examples = queries.recommendation_examples(con)
    assert [e.reviewer_id for e in examples] == ["U1", "U2", "U3"]  # personal first, then id
    first = examples[0]
    assert [(i.rank, i.asin, i.title, i.reason) for i in first.items] == [
        (1, "A1", "<b>One</b>", "personal"),
        (2, "A3", "Three", "personal"),
    ]
    assert [(p.asin, p.rating) for p in first.reviewed] == [("A2", 1), ("A1", 5)]  # newest first
    assert len(queries.recommendation_examples(con, reviewers=1, shown=1)[0].items) == 1


def test_latest_reviews(con) -> None:
    latest = queries.latest_reviews(con, limit=2)
    assert [(r.review_id, r.sentiment, r.review_text) for r in latest] == [
        ("r5", "negative", SCRIPT),
        ("r4", "neutral", "fine"),
    ]


def test_data_quality_counts_rules_and_duplicates(con) -> None:
    quality = queries.data_quality(con, TABLE_ROWS)
    assert [(r.layer, r.dataset, r.reason, r.rows) for r in quality.reasons] == [
        ("bronze", "amazon_reviews", "invalid JSON", 2),
        ("silver", "amazon_reviews", "missing asin", 2),
        ("silver", "amazon_metadata", "missing asin", 1),
        ("silver", "amazon_reviews", "overall out of range", 1),
    ]
    assert quality.quarantined_rows == {
        ("bronze", "amazon_reviews"): 2,
        ("silver", "amazon_reviews"): 2,
        ("silver", "amazon_metadata"): 1,
    }
    assert quality.reconciliation == [
        queries.Reconciliation("amazon_reviews", 2, 10, 7, 2, 1),
        queries.Reconciliation("amazon_metadata", 0, 4, 3, 1, 0),
    ]  # no bronze.reviews_streaming yet: no row for the stream
    assert quality.cross_source_duplicates == 7 + 3 - 9


def test_quarantine_reasons_are_grouped_by_kind_with_recent_examples() -> None:
    """Positions and sizes quoted in a reason do not split its kind into many bars."""
    at = [NOW - timedelta(minutes=m) for m in range(6)]
    bronze = [
        ("amazon_reviews", "unreadable file from its start: not a gzip file", "r/p0/a.gz", None),
        ("amazon_reviews", "unreadable file after line 12: TruncatedFileError", "r/p1/b.gz", None),
        ("amazon_reviews", "unreadable file after line 0: error: x", "r/p2/c.gz", None),
        ("amazon_reviews", "invalid UTF-8 at byte 70", "r/p0/d.json", 3),
        ("amazon_reviews", "invalid UTF-8 at byte 9", "r/p0/d.json", 5),
        ("amazon_metadata", "line of 80,000,000 bytes exceeds the 67,108,864-byte limit", "m", 1),
    ]
    relations = {
        "bronze_quarantine": frame(
            "bronze_quarantine",
            [
                {
                    "dataset": dataset,
                    "reason": reason,
                    "_source_file": source,
                    "_line": line,
                    "_ingested_at": at[i],
                }
                for i, (dataset, reason, source, line) in enumerate(bronze)
            ],
        ),
        "silver_quarantine": frame(
            "silver_quarantine",
            [
                {"dataset": "amazon_reviews", "reason": "overall out of range: 9", "_line": 1},
                {"dataset": "amazon_reviews", "reason": "missing asin; overall out of range: 0"},
            ],
        ),
    }
    with duckdb.connect() as con:
        queries.register(con, relations)
        kinds = [(r.layer, r.dataset, r.reason, r.rows) for r in queries.quarantine_reasons(con)]
        examples = queries.quarantine_examples(con, per_kind=2)
    assert kinds == [
        ("bronze", "amazon_reviews", "unreadable file", 3),
        ("bronze", "amazon_reviews", "invalid UTF-8", 2),
        ("silver", "amazon_reviews", "overall out of range", 2),
        ("bronze", "amazon_metadata", "line exceeds the size limit", 1),
        ("silver", "amazon_reviews", "missing asin", 1),
    ]
    assert [(e.kind, e.source, e.line) for e in examples] == [
        ("unreadable file", "r/p0/a.gz", None),  # the most recent first
        ("unreadable file", "r/p1/b.gz", None),
        ("invalid UTF-8", "r/p0/d.json", 3),
        ("invalid UTF-8", "r/p0/d.json", 5),
        ("overall out of range", None, 1),
        ("overall out of range", None, None),
        ("line exceeds the size limit", "m", 1),
        ("missing asin", None, None),
    ]
    assert examples[0].reason == "unreadable file from its start: not a gzip file"


# --- rendering -------------------------------------------------------------------------------

# Panels that show a table or a summary, never a chart: the model's figures, the
# recommendations, the duplicates-dropped reconciliation and the latest reviews.
TABLE_PANELS = {"model", "recommendations", "reconciliation", "latest_reviews"}
# Panels that need the stream or the model tables (the page before either has them: empty).
STREAM_AND_MODEL_CHARTS = {"roc", "confusion", "stream"}


def declared_chart_panels() -> set[str]:
    """Every chart panel the page declares: with no table at all, each panel says why it is
    empty, so the page of nothing lists them all. Counting them here, not copying the figure
    one run printed, keeps the tests right when a chart is added or removed."""
    with duckdb.connect() as connection:
        queries.register(connection, {})
        page = render_page(queries.collect(connection, NOW, {}))
    assert page.charts == [] and set(page.empty_panels) >= TABLE_PANELS
    return set(page.empty_panels) - TABLE_PANELS


def drawn_panels(chart_ids: list[str]) -> set[str]:
    """The panel names of a page's chart containers (`chart-<panel>`)."""
    return {chart_id.removeprefix("chart-") for chart_id in chart_ids}


def test_plotly_text_and_script_json_escape_markup() -> None:
    assert charts.text('<b>x</b> & "y"') == '&lt;b&gt;x&lt;/b&gt; &amp; "y"'
    assert charts.text("abcdef", limit=4) == "abc…"
    assert script_json({"t": "</script><!--&"}) == (
        '{"t":"\\u003c/script\\u003e\\u003c!--\\u0026"}'
    )


def test_render_escapes_every_lake_value(con) -> None:
    hostile = f"{SCRIPT}{IMG}"
    con.register(
        "products",
        pl.DataFrame(
            [{"asin": "A1", "title": hostile, "brand": hostile, "price": 3.0,
              "price_imputed": False, "reviews": 2, "avg_rating": 4.0}],
            schema=queries.SOURCES["products"].schema,
        ),
    )  # fmt: skip
    page = render_page(queries.collect(con, NOW, TABLE_ROWS))
    body = page.html.replace(plotly_js(), "")
    assert SCRIPT not in body and IMG not in body and "<img" not in body
    assert body.count("<script") == 3  # the figures' JSON, plotly.js and the bootstrap
    assert html.escape(SCRIPT) in body  # the review text, shown as text
    assert html.escape(hostile) in body  # the product title in the recommendations
    assert script_json(charts.text(hostile, charts.LABEL_CHARS))[1:-1] in body  # hover text
    assert page.html.count(plotly_js()) == 1
    assert "cdn" not in body.lower() and "https://" not in body
    # Every panel has data in the tiny tables: each chart panel draws its chart.
    assert drawn_panels(page.charts) == declared_chart_panels() and page.empty_panels == []
    assert len(page.charts) == len(declared_chart_panels())
    assert f'data-chart-count="{len(page.charts)}"' in body


def test_render_with_no_tables_at_all() -> None:
    with duckdb.connect() as connection:
        queries.register(connection, {})
        page = render_page(queries.collect(connection, NOW, {}))
    assert page.charts == []
    assert "roc" in page.empty_panels and "stream" in page.empty_panels
    assert 'data-kpi="reviews"' in page.html and "No data yet" in page.html


def test_dashboard_site_replaces_the_page_atomically(tmp_path: Path) -> None:
    site = DashboardSite(path=str(tmp_path / "site" / "index.html"))
    assert site.publish("<p>one</p>").read_text() == "<p>one</p>"
    assert site.publish("<p>two</p>").read_text() == "<p>two</p>"
    assert [p.name for p in (tmp_path / "site").iterdir()] == ["index.html"]  # no temp left


# --- the asset through Dagster, and the page in headless Chromium ----------------------------


def landing_files(workspace: Workspace) -> None:
    """Seven products (one with a title and a brand that decode to markup), sixty reviews over
    four years, a review whose text is markup, a duplicate, a bad line and a contract break."""
    hostile_title = f"Widget {html.escape(SCRIPT)} {html.escape(IMG)}"  # silver decodes these
    products = [
        product(
            n,
            brand=["Acme", "Bolt", f"{html.escape(BRAND_SCRIPT)} Brand"][n % 3],
            main_cat=["Toys &amp; Games", "Books", "Electronics"][n % 3],
            **({"title": hostile_title} if n == 3 else {}),
        )
        for n in range(7)
    ]
    workspace.write_landing_file("amazon_metadata/partition_0/meta.json.gz", products)
    reviews = [
        review(n, unixReviewTime=1_300_000_000 + n * 20 * 86_400, verified=n % 3 != 0)
        for n in range(60)
    ]
    workspace.write_landing_file("amazon_reviews/partition_0/a.json.gz", reviews)
    hostile = review(
        100, asin="B000000003", reviewText=SCRIPT + IMG, summary="<b>bold</b>",
        unixReviewTime=1_500_000_000,
    )  # fmt: skip
    workspace.write_landing_file(
        "amazon_reviews/partition_1/b.json.gz",
        [hostile, reviews[5], review(200, overall=7.0)],
        raw_lines=(b"{not json",),
    )


def write_ml_tables(workspace: Workspace) -> None:
    """The four tables the ML assets will write (their contract), small."""
    lake = workspace.lakehouse
    gold = lake.read(GOLD_REVIEWS_ENRICHED, columns=["review_id", "rating", "reviewer_id"])
    scored_at = datetime.now(UTC)
    lake.replace(
        GOLD_REVIEW_SENTIMENT,
        gold.select(
            "review_id",
            pl.when(pl.col("rating") <= 2)
            .then(pl.lit("negative"))
            .when(pl.col("rating") == 3)
            .then(pl.lit("neutral"))
            .otherwise(pl.lit("positive"))
            .alias("sentiment"),
            (pl.col("rating").cast(pl.Float64) / 5).alias("positive_probability"),
            pl.lit(1, dtype=pl.Int64).alias("model_version"),
            pl.lit(scored_at, dtype=TS).alias("scored_at"),
        ),
    )
    details = {
        "roc_curve": {"fpr": [0.0, 0.1, 0.3, 1.0], "tpr": [0.0, 0.6, 0.9, 1.0]},
        "confusion_matrix": {"labels": ["negative", "positive"], "matrix": [[8, 2], [3, 27]]},
    }
    evaluations = pl.DataFrame(
        {
            "model": ["paisa-sentiment", "paisa-sentiment", "paisa-recommender"],
            "version": [1, 2, 1],
            "run_id": ["run-1", "run-2", "run-r"],
            "trained_at": [scored_at] * 3,
            "is_champion": [True, False, True],
            "metrics": [
                json.dumps(
                    {
                        "roc_auc": 0.91,
                        "accuracy": 0.88,
                        "f1_macro": 0.8,
                        "baseline_majority.roc_auc": 0.5,
                    }
                ),
                json.dumps({"roc_auc": 0.7}),
                json.dumps({"precision_at_10": 0.2}),
            ],
            "details": [json.dumps(details), "{}", "{}"],
        },
        schema_overrides={"trained_at": TS},
    )
    for table, model in (
        (GOLD_SENTIMENT_EVALUATIONS, "paisa-sentiment"),
        (GOLD_RECOMMENDER_EVALUATIONS, "paisa-recommender"),
    ):
        lake.replace(table, evaluations.filter(pl.col("model") == model))
    reviewers = sorted(set(gold["reviewer_id"]))[:2]
    lake.replace(
        GOLD_RECOMMENDATIONS,
        pl.DataFrame(
            {
                "reviewer_id": [reviewers[0]] * 2 + [reviewers[1]],
                "rank": pl.Series([1, 2, 1], dtype=pl.Int32),
                "asin": ["B000000003", "B000000001", "B000000003"],
                "score": [0.9, 0.5, 0.4],
                "reason": ["personal", "personal", "popular"],
            }
        ),
    )
    lake.replace(
        GOLD_SIMILAR_PRODUCTS,
        pl.DataFrame(
            {
                "asin": ["B000000001"],
                "rank": pl.Series([1], dtype=pl.Int32),
                "similar_asin": ["B000000003"],
                "similarity": [0.8],
            }
        ),
    )


def materialize_dashboard(instance: DagsterInstance, workspace: Workspace) -> dict:
    job = workspace.defs.resolve_implicit_job_def_def_for_assets([DASHBOARD])
    assert job is not None
    result = job.execute_in_process(instance=instance, asset_selection=[DASHBOARD])
    assert result.success
    (materialization,) = result.asset_materializations_for_node("dashboard")
    return {key: value.value for key, value in materialization.metadata.items()}


@dataclass
class Built:
    workspace: Workspace
    bare: tuple[Path, dict]  # the page before any stream event or model table, and its metadata
    full: tuple[Path, dict]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("dashboard")
    workspace = make_workspace(root)
    landing_files(workspace)
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, workspace.landing)
        materialize_all(instance, workspace)
        # No stream event and no model yet (the scoring step may leave an empty table).
        assert not workspace.lakehouse.exists(BRONZE_EH_STREAMING)
        for table in (GOLD_REVIEW_SENTIMENT, GOLD_MODEL_EVALUATIONS, GOLD_RECOMMENDATIONS):
            assert count_view(workspace.lakehouse, table) == 0
        metadata = materialize_dashboard(instance, workspace)
        bare = root / "bare.html"
        shutil.copyfile(metadata["path"], bare)

        events = LocalEventLog(root=str(root / "events"))
        events.publish([*generated_payloads(2, seed=3), b"not json"])
        materialize_all(instance, workspace)
        write_ml_tables(workspace)
        full_metadata = materialize_dashboard(instance, workspace)
        yield Built(workspace, (bare, metadata), (Path(full_metadata["path"]), full_metadata))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    executable = chromium_executable()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does)")
    with Chromium(executable, tmp_path / "chromium-profile") as chromium:
        yield chromium


# A plotly SVG with at least one drawn trace (bars, lines, markers) or heatmap image.
CHARTS_DRAWN = """
(() => {
  const DRAWN_TRACE = 'svg.main-svg .cartesianlayer .trace, svg.main-svg .cartesianlayer .hm';
  const containers = [...document.querySelectorAll('.chart')];
  return {
    reported: Number(document.body.getAttribute('data-charts-rendered')),
    declared: Number(document.body.getAttribute('data-chart-count')),
    containers: containers.length,
    with_svg: containers.filter(c => c.querySelector(DRAWN_TRACE)).length,
    marked: containers.filter(c => c.getAttribute('data-rendered') === 'true').length,
    empty: [...document.querySelectorAll('[data-empty]')].map(e => e.getAttribute('data-empty')),
  };
})()
"""
KPIS = """
Object.fromEntries([...document.querySelectorAll('.kpi')].map(k => [
  k.getAttribute('data-kpi'),
  [k.querySelector('.kpi-value').getAttribute('data-value'),
   k.querySelector('.kpi-value').textContent]]))
"""

RECONCILIATION = """
[...document.querySelectorAll('#panel-reconciliation tbody tr')]
  .map(row => [...row.cells].map(cell => cell.textContent))
"""


def open_page(browser: Chromium, path: Path) -> dict:
    browser.goto(path.as_uri())
    browser.wait_for("document.body.hasAttribute('data-charts-rendered')")
    browser.drain(0.3)  # late console errors
    return browser.evaluate(CHARTS_DRAWN)


def test_dashboard_asset_metadata(built: Built) -> None:
    path, metadata = built.full
    kpis = built.workspace.lakehouse.read(GOLD_KPIS).row(0, named=True)
    assert path == built.workspace.root / "dashboard" / "index.html" and path.exists()
    assert metadata["reviews"] == kpis["reviews"] and metadata["products"] == kpis["products"]
    assert metadata["charts"] == len(declared_chart_panels()) and metadata["empty_panels"] == []
    assert metadata["stream_events_last_hour"] == 3  # two reviews and one bad body
    assert metadata["sentiment_model_version"] == 1  # the champion, not the latest
    # Before any stream event or model table: every chart but those that need them.
    assert built.bare[1]["charts"] == len(declared_chart_panels() - STREAM_AND_MODEL_CHARTS)
    assert set(built.bare[1]["empty_panels"]) == {
        "model",
        "roc",
        "confusion",
        "recommendations",
        "stream",
    }


def test_full_page_in_chromium(built: Built, browser: Chromium, tmp_path: Path) -> None:
    path, metadata = built.full
    drawn = open_page(browser, path)
    assert browser.errors == []
    assert drawn == {
        "reported": metadata["charts"],
        "declared": metadata["charts"],
        "containers": metadata["charts"],
        "with_svg": metadata["charts"],
        "marked": metadata["charts"],
        "empty": [],
    }
    # Nothing but the page itself (and data: URLs plotly makes) is ever requested.
    assert [u for u in browser.requests if not u.startswith(("file://", "data:", "blob:"))] == []

    lake = built.workspace.lakehouse
    kpis = lake.read(GOLD_KPIS).row(0, named=True)
    tiles = browser.evaluate(KPIS)
    for name in ("reviews", "reviewers", "products"):
        assert tiles[name] == [str(kpis[name]), f"{kpis[name]:,}"], name
    assert float(tiles["avg_rating"][0]) == kpis["avg_rating"]
    assert tiles["avg_rating"][1] == f"{kpis['avg_rating']:.2f}"
    events = lake.read(BRONZE_EH_STREAMING)
    assert tiles["stream_events_last_hour"][0] == str(events.height) == "3"
    last_event = events["enqueued_time"].max()
    assert datetime.fromisoformat(tiles["last_event_at"][0]) == last_event

    # Duplicates dropped: the one repeated review; the bad line, the contract break and the
    # non-JSON event body are each counted where they were quarantined.
    assert browser.evaluate(RECONCILIATION) == [
        ["amazon_reviews", "1", "63", "1", "1", "61"],
        ["amazon_metadata", "0", "7", "0", "0", "7"],
        ["reviews_streaming", "1", "2", "0", "0", "2"],
    ]

    # Markup from the lake never runs and shows as the characters it is made of.
    assert browser.evaluate("typeof window.__xss") == "undefined"
    assert browser.evaluate("document.scripts.length") == 3
    assert browser.evaluate("document.querySelectorAll('img, main script').length") == 0
    text = browser.evaluate("document.body.innerText")
    assert SCRIPT + IMG in text  # the review text
    assert f"Widget {SCRIPT} {IMG}" in text  # the product title
    labels = browser.evaluate(
        "[...document.querySelectorAll('.chart svg text')].map(t => t.textContent)"
    )
    assert f"{BRAND_SCRIPT} Brand" in labels  # a brand on a chart axis, through plotly

    shot = browser.screenshot(tmp_path / "dashboard.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    assert browser.errors == []


def test_page_without_stream_or_model_tables_in_chromium(
    built: Built, browser: Chromium, tmp_path: Path
) -> None:
    path, metadata = built.bare
    drawn = open_page(browser, path)
    assert browser.errors == []
    assert drawn["reported"] == drawn["with_svg"] == drawn["marked"] == metadata["charts"]
    assert metadata["charts"] == len(declared_chart_panels() - STREAM_AND_MODEL_CHARTS)
    assert set(drawn["empty"]) == {"roc", "confusion", "stream", "recommendations", "model"}
    tiles = browser.evaluate(KPIS)
    assert tiles["stream_events_last_hour"] == ["0", "0"]
    assert tiles["last_event_at"] == ["", "—"]
    assert browser.evaluate("typeof window.__xss") == "undefined"
    assert browser.screenshot(tmp_path / "bare.png").stat().st_size > 20_000
