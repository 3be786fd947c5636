"""The dashboard asset: read the lake, render one self-contained HTML page, publish it.

The queries and the page are pure (`paisa_assets.dashboard`), the session over the lake is
`paisa_assets.dashboard.session`; this module only wires them and reports what was written.
Panels whose tables do not exist yet say "no data yet".
"""

from datetime import UTC, datetime

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from paisa_assets.asset_specs import other_asset
from paisa_assets.dashboard import queries
from paisa_assets.dashboard.session import DASHBOARD_INPUTS, dashboard_session, table_rows
from paisa_assets.resources.dashboard_site import DashboardSite
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.tables import asset_key


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


__all__ = ["DASHBOARD_INPUTS", "dashboard", "dashboard_session", "table_rows"]
