"""What the warehouse file (DuckDB) exposes to SQL clients: every gold table, every quarantine
table, and the quarantine of each layer as one view (batch and stream rows, told apart by
`dataset`), so `paisa sql "select * from bronze.quarantine"` answers."""

from dagster import DagsterLogManager, MaterializeResult, MetadataValue

from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.tables import (
    BRONZE_QUARANTINE,
    GOLD_TABLES,
    QUARANTINE_TABLES,
    SILVER_QUARANTINE,
    UNION_VIEWS,
)

PUBLISHED_TABLES = (*GOLD_TABLES, *QUARANTINE_TABLES)
QUARANTINE_VIEWS = {view: UNION_VIEWS[view] for view in (BRONZE_QUARANTINE, SILVER_QUARANTINE)}


def publish_warehouse(
    log: DagsterLogManager, lakehouse: Lakehouse, warehouse: Warehouse
) -> MaterializeResult:
    """Publish the tables and views as of now; the result says how each was exposed."""
    exposed = warehouse.publish(lakehouse, list(PUBLISHED_TABLES), QUARANTINE_VIEWS)
    log.info(f"warehouse {warehouse.database_path()}: {exposed}")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(warehouse.database_path())),
            "objects": MetadataValue.json(exposed),
        }
    )
