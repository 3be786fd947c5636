"""The dashboard asset: read the lake, render one self-contained HTML page, publish it.

The queries and the page are pure (`paisa_assets.dashboard`); this module only opens the tables
and reports what was written. Tables that do not exist yet (no stream, no model) read as empty,
and their panels say "no data yet", so the page can be built at any point of the graph's life.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import duckdb
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from paisa_assets.dashboard import queries
from paisa_assets.resources.dashboard_site import DashboardSite
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse, register_delta
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_PRODUCT_SUMMARY,
    GOLD_RECOMMENDATIONS,
    GOLD_REVIEW_SENTIMENT,
    GOLD_REVIEWS_ENRICHED,
    asset_key,
)

# The assets whose tables the page reads. Side tables have no asset of their own: quarantine
# and row counts come with the bronze and silver runs, gold.model_evaluations with each model's
# training asset (upstream of gold.review_sentiment, so the lineage still shows it).
DASHBOARD_INPUTS = (
    GOLD_REVIEWS_ENRICHED,
    GOLD_PRODUCT_SUMMARY,
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_REVIEW_SENTIMENT,
    GOLD_RECOMMENDATIONS,
    BRONZE_EH_STREAMING,
)


@contextmanager
def dashboard_session(
    lakehouse: Lakehouse, warehouse: Warehouse
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB engine with every relation of `queries.SOURCES` registered, each projected to the
    columns the queries use (so no review text or event body is streamed for a count)."""
    with warehouse.engine() as con:
        con.execute("SET TimeZone = 'UTC'")
        missing = [
            name
            for name, source in queries.SOURCES.items()
            if not register_delta(con, name, lakehouse, source.table, source.schema.names())
        ]
        queries.register(con, {}, only=missing)  # each missing table reads as empty
        yield con


def table_rows(lakehouse: Lakehouse) -> dict[str, int | None]:
    """Rows of the tables the duplicates panel reconciles, from Delta's file statistics."""
    return {
        table: lakehouse.count(table) if lakehouse.exists(table) else None
        for table in queries.COUNTED_TABLES
    }


@asset(
    key=["dashboard"],
    pool="dashboard",
    deps=[asset_key(table) for table in DASHBOARD_INPUTS],
    group_name="reporting",
    description="A self-contained HTML dashboard (default data/dashboard/index.html; plotly.js "
    "embedded, nothing fetched): KPI tiles, ratings, reviews and rating per year, categories, "
    "sentiment (model and rating-based) overall, per year and per brand, price against rating, "
    "stream freshness, the classifier's ROC curve and confusion matrix, recommendation examples "
    "and data quality. Panels whose table does not exist yet say so.",
    kinds={"html", "plotly", "duckdb"},
    tags={"layer": "reporting"},
)
def dashboard(
    context: AssetExecutionContext,
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    dashboard_site: DashboardSite,
) -> MaterializeResult:
    from paisa_assets.dashboard.render import render_page  # plotly: only where a page is drawn

    now = datetime.now(UTC)
    counts = table_rows(lakehouse)
    with dashboard_session(lakehouse, warehouse) as con:
        data = queries.collect(con, now, counts)
    page = render_page(data)
    path = dashboard_site.publish(page.html)
    context.log.info(
        f"dashboard {path}: {len(page.charts)} charts; no data yet in {page.empty_panels or '-'}"
    )
    kpis = data.kpis
    metadata = {
        "path": MetadataValue.path(str(path)),
        "charts": MetadataValue.int(len(page.charts)),
        "empty_panels": MetadataValue.json(page.empty_panels),
        "reviews": MetadataValue.int(kpis.reviews),
        "reviewers": MetadataValue.int(kpis.reviewers),
        "products": MetadataValue.int(kpis.products),
        "stream_events_last_hour": MetadataValue.int(kpis.stream_events_last_hour),
        "last_event_at": MetadataValue.text(
            "none" if kpis.last_event_at is None else kpis.last_event_at.isoformat()
        ),
        "size_bytes": MetadataValue.int(len(page.html.encode("utf-8"))),
    }
    if kpis.avg_rating is not None:
        metadata["avg_rating"] = MetadataValue.float(kpis.avg_rating)
    if data.model is not None:
        metadata["sentiment_model_version"] = MetadataValue.int(data.model.version)
    return MaterializeResult(metadata=metadata)
