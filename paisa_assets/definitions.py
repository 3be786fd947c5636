"""The single Definitions object of the paisa code location."""

from __future__ import annotations

from dagster import Definitions, EnvVar

from paisa_assets.assets.bronze import bronze_amazon_metadata, bronze_amazon_reviews
from paisa_assets.assets.dashboard import dashboard
from paisa_assets.assets.gold import (
    gold_category_monthly,
    gold_kpis,
    gold_product_summary,
    gold_reviews_enriched,
    warehouse_views,
)
from paisa_assets.assets.maintenance import lake_maintenance
from paisa_assets.assets.recommender import recommender
from paisa_assets.assets.sentiment import gold_review_sentiment, sentiment_model
from paisa_assets.assets.silver import silver_amazon_metadata, silver_amazon_reviews
from paisa_assets.assets.streaming import (
    bronze_eh_streaming,
    bronze_reviews_streaming,
    silver_reviews_streaming,
)
from paisa_assets.checks import asset_checks
from paisa_assets.checks_stream import stream_checks
from paisa_assets.checks_tables import side_table_checks
from paisa_assets.jobs import (
    gold_job,
    maintenance_job,
    metadata_ingest_job,
    ml_job,
    reconciliation_job,
    reviews_ingest_job,
    streaming_job,
)
from paisa_assets.resources.adls_landing_zone import AdlsLandingZone
from paisa_assets.resources.azure_event_hubs import AzureEventHubs
from paisa_assets.resources.azure_storage import AzureStorage
from paisa_assets.resources.dashboard_site import DashboardSite
from paisa_assets.resources.event_source import EventSource
from paisa_assets.resources.lakehouse import Lakehouse, is_remote_uri
from paisa_assets.resources.landing_zone import LandingZone, LocalLandingZone
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.resources.mlflow_tracking import MlflowTracking
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.schedules import (
    maintenance_schedule,
    ml_retrain_schedule,
    reconciliation_schedule,
)
from paisa_assets.sensors import eventhub_sensor, gold_sensor, landing_zone_sensor
from paisa_assets.settings import (
    AZURE_STORAGE_ACCOUNT,
    AZURE_STORAGE_CONNECTION_STRING,
    AZURE_STORAGE_ENDPOINT,
    AZURE_STORAGE_KEY,
    AZURE_STORAGE_SAS_TOKEN,
    DASHBOARD_PATH,
    EVENTHUB_CONNECTION_STRING,
    EVENTHUB_CONSUMER_GROUP,
    EVENTHUB_NAME,
    EVENTS_ROOT,
    LAKE_ROOT,
    LANDING_ROOT,
    MLFLOW_ARTIFACT_ROOT,
    MLFLOW_EXPERIMENT,
    MLFLOW_TRACKING_URI,
    WAREHOUSE_PATH,
    is_set,
    optional_setting,
    resolved,
    setting,
)

ASSETS = [
    bronze_amazon_reviews,
    bronze_amazon_metadata,
    silver_amazon_reviews,
    silver_amazon_metadata,
    bronze_eh_streaming,
    bronze_reviews_streaming,
    silver_reviews_streaming,
    gold_reviews_enriched,
    gold_product_summary,
    gold_category_monthly,
    gold_kpis,
    warehouse_views,
    sentiment_model,
    gold_review_sentiment,
    recommender,
    dashboard,
    lake_maintenance,
]


def default_event_source(*, resolve: bool = False) -> EventSource:
    """Azure Event Hubs when its connection string is set, else the local event log.

    Dagster resolves `EnvVar`s when a run starts; code outside a run (the CLI) asks for
    `resolve=True` to get the values themselves.
    """
    value = resolved if resolve else setting
    if is_set(EVENTHUB_CONNECTION_STRING):
        return AzureEventHubs(
            connection_string=(
                resolved(EVENTHUB_CONNECTION_STRING)
                if resolve
                else EnvVar(EVENTHUB_CONNECTION_STRING)
            ),
            eventhub_name=value(EVENTHUB_NAME),
            consumer_group=value(EVENTHUB_CONSUMER_GROUP),
        )
    return LocalEventLog(root=value(EVENTS_ROOT), hub=value(EVENTHUB_NAME))


def azure_storage(*, resolve: bool = False) -> AzureStorage:
    """`resolve`: the values themselves, for code outside a run (see `default_event_source`)."""
    value = resolved_optional if resolve else optional_setting
    return AzureStorage(
        account_name=value(AZURE_STORAGE_ACCOUNT),
        account_key=value(AZURE_STORAGE_KEY),
        sas_token=value(AZURE_STORAGE_SAS_TOKEN),
        endpoint=value(AZURE_STORAGE_ENDPOINT),
        connection_string=value(AZURE_STORAGE_CONNECTION_STRING),
    )


def resolved_optional(name: str) -> str | None:
    return resolved(name) or None


def default_landing_zone(*, resolve: bool = False) -> LandingZone:
    """ADLS Gen2 when PAISA_LANDING_ROOT is an az:// or abfss:// URI, else a local folder;
    `resolve` as in `default_event_source`."""
    root = resolved(LANDING_ROOT) if resolve else setting(LANDING_ROOT)
    if is_remote_uri(resolved(LANDING_ROOT)):
        return AdlsLandingZone(root=root, azure=azure_storage(resolve=resolve))
    return LocalLandingZone(root=root)


def default_lakehouse() -> Lakehouse:
    if is_remote_uri(resolved(LAKE_ROOT)):
        return Lakehouse(root=setting(LAKE_ROOT), azure=azure_storage())
    return Lakehouse(root=setting(LAKE_ROOT))


def default_resources() -> dict[str, object]:
    """Local folders under data/ unless the PAISA_* environment variables say otherwise."""
    return {
        "event_source": default_event_source(),
        "landing_zone": default_landing_zone(),
        "lakehouse": default_lakehouse(),
        "warehouse": Warehouse(path=setting(WAREHOUSE_PATH)),
        "dashboard_site": DashboardSite(path=setting(DASHBOARD_PATH)),
        "mlflow_tracking": MlflowTracking(
            tracking_uri=setting(MLFLOW_TRACKING_URI),
            artifact_root=setting(MLFLOW_ARTIFACT_ROOT),
            experiment=setting(MLFLOW_EXPERIMENT),
        ),
    }


def build_definitions(
    landing_zone: LandingZone | None = None,
    lakehouse: Lakehouse | None = None,
    warehouse: Warehouse | None = None,
    event_source: EventSource | None = None,
    mlflow_tracking: MlflowTracking | None = None,
    dashboard_site: DashboardSite | None = None,
) -> Definitions:
    """The code location; tests pass resources pointing at temporary folders."""
    resources = default_resources()
    for name, override in (
        ("landing_zone", landing_zone),
        ("lakehouse", lakehouse),
        ("warehouse", warehouse),
        ("event_source", event_source),
        ("dashboard_site", dashboard_site),
        ("mlflow_tracking", mlflow_tracking),
    ):
        if override is not None:
            resources[name] = override
    return Definitions(
        assets=ASSETS,
        asset_checks=[*asset_checks, *stream_checks, *side_table_checks],
        jobs=[
            reviews_ingest_job,
            metadata_ingest_job,
            streaming_job,
            gold_job,
            ml_job,
            maintenance_job,
            reconciliation_job,
        ],
        sensors=[landing_zone_sensor, eventhub_sensor, gold_sensor],
        schedules=[ml_retrain_schedule, maintenance_schedule, reconciliation_schedule],
        resources=resources,
    )


defs = build_definitions()
