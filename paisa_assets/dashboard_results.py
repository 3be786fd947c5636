"""What the dashboard asset reports to Dagster: where the page went, how many charts it drew,
which panels had no data yet, and the headline figures it showed (to compare runs in the UI).

Outside the `dashboard` package, which has no Dagster in it.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import MetadataValue

from paisa_assets.dashboard.queries import DashboardData

if TYPE_CHECKING:
    from paisa_assets.dashboard.render import RenderedPage


def dashboard_metadata(path: Path, page: "RenderedPage", data: DashboardData) -> dict[str, Any]:
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
    return metadata
