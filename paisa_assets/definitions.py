"""The single Definitions object of the paisa code location."""

from __future__ import annotations

from dagster import Definitions

from paisa_assets.assets.bronze import bronze_amazon_metadata, bronze_amazon_reviews
from paisa_assets.assets.gold import (
    gold_category_monthly,
    gold_kpis,
    gold_product_summary,
    gold_reviews_enriched,
    warehouse_views,
)
from paisa_assets.assets.silver import silver_amazon_metadata, silver_amazon_reviews
from paisa_assets.checks import asset_checks
from paisa_assets.jobs import gold_job, metadata_ingest_job, reviews_ingest_job
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import LandingZone, LocalLandingZone
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.sensors import gold_sensor, landing_zone_sensor
from paisa_assets.settings import LAKE_ROOT, LANDING_ROOT, WAREHOUSE_PATH, setting

ASSETS = [
    bronze_amazon_reviews,
    bronze_amazon_metadata,
    silver_amazon_reviews,
    silver_amazon_metadata,
    gold_reviews_enriched,
    gold_product_summary,
    gold_category_monthly,
    gold_kpis,
    warehouse_views,
]


def default_resources() -> dict[str, object]:
    """Local folders under data/ unless the PAISA_* environment variables say otherwise."""
    return {
        "landing_zone": LocalLandingZone(root=setting(LANDING_ROOT)),
        "lakehouse": Lakehouse(root=setting(LAKE_ROOT)),
        "warehouse": Warehouse(path=setting(WAREHOUSE_PATH)),
    }


def build_definitions(
    landing_zone: LandingZone | None = None,
    lakehouse: Lakehouse | None = None,
    warehouse: Warehouse | None = None,
) -> Definitions:
    """The code location; tests pass resources pointing at temporary folders."""
    resources = default_resources()
    for name, override in (
        ("landing_zone", landing_zone),
        ("lakehouse", lakehouse),
        ("warehouse", warehouse),
    ):
        if override is not None:
            resources[name] = override
    return Definitions(
        assets=ASSETS,
        asset_checks=asset_checks,
        jobs=[reviews_ingest_job, metadata_ingest_job, gold_job],
        sensors=[landing_zone_sensor, gold_sensor],
        resources=resources,
    )


defs = build_definitions()
