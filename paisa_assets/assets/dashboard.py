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

from paisa_assets.asset_specs import other_asset
from paisa_assets.dashboard import queries
from paisa_assets.lake_views import scan_table
from paisa_assets.resources.dashboard_site import DashboardSite
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse, register_delta
from paisa_assets.tables import UNION_VIEWS, asset_key


def tables_of(relation: str) -> tuple[str, ...]:
    """The Delta tables behind a relation the queries read (a union view has several)."""
    return UNION_VIEWS.get(relation, (relation,))


# Every table the page reads (each relation of the queries, the tables it counts rows of).
DASHBOARD_INPUTS = tuple(
    dict.fromkeys(
        table
        for relation in (
            *(source.table for source in queries.SOURCES.values()),
            *queries.COUNTED_TABLES,
        )
        for table in tables_of(relation)
    )
)


@contextmanager
def dashboard_session(
    lakehouse: Lakehouse, warehouse: Warehouse
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB engine with every relation of `queries.SOURCES` registered, each projected to the
    columns the queries use (so no review text or event body is streamed for a count). A union
    view is registered over those of its tables that exist."""
    with warehouse.engine() as con:
        con.execute("SET TimeZone = 'UTC'")
        missing = []
        for name, source in queries.SOURCES.items():
            tables = tables_of(source.table)
            parts = []
            for index, table in enumerate(tables):
                part = name if len(tables) == 1 else f"{name}__{index}"
                if register_delta(con, part, lakehouse, table, source.schema.names()):
                    parts.append(part)
                elif (legacy := scan_table(lakehouse, table)) is not None:
                    # A lake from before the split: the table's slice of the old shared table.
                    con.register(part, legacy.select(source.schema.names()).collect().to_arrow())
                    parts.append(part)
            if not parts:
                missing.append(name)
            elif len(tables) > 1:
                union = " UNION ALL BY NAME ".join(f"SELECT * FROM {part}" for part in parts)
                con.execute(f"CREATE TEMP VIEW {name} AS {union}")
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
    **other_asset("dashboard"),
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
