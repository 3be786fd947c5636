"""The dashboard asset: read the lake, render one self-contained HTML page, publish it.

The queries and the page are pure (`paisa_assets.dashboard`), the session over the lake is
`paisa_assets.dashboard.session`, the reported figures `dashboard_results`; this module only
wires them. Panels whose tables do not exist yet say "no data yet".
"""

from datetime import UTC, datetime

from dagster import AssetExecutionContext, MaterializeResult, asset

from paisa_assets.asset_specs import other_asset
from paisa_assets.dashboard import queries
from paisa_assets.dashboard.session import DASHBOARD_INPUTS, dashboard_session, table_rows
from paisa_assets.dashboard_results import dashboard_metadata
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

    counts = table_rows(lakehouse)
    with dashboard_session(lakehouse, warehouse) as con:
        data = queries.collect(con, datetime.now(UTC), counts)
    page = render_page(data)
    path = dashboard_site.publish(page.html)
    context.log.info(
        f"dashboard {path}: {len(page.charts)} charts; no data yet in {page.empty_panels or '-'}"
    )
    return MaterializeResult(metadata=dashboard_metadata(path, page, data))
