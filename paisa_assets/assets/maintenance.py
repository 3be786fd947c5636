"""The lake's housekeeping as an asset: compaction, checkpoints and vacuum of every table."""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from paisa_assets.asset_specs import other_asset
from paisa_assets.lake_views import LEGACY_TABLES
from paisa_assets.maintenance import DEFAULT_RETENTION_HOURS, check_retention, maintain
from paisa_assets.resources.lakehouse import Lakehouse, retry_on_conflict
from paisa_assets.tables import ALL_TABLES

LAKE_MAINTENANCE = "lake_maintenance"


class MaintenanceConfig(Config):
    retention_hours: int = Field(
        default=DEFAULT_RETENTION_HOURS,
        description="Vacuum deletes files that no version younger than this references.",
    )


@asset(
    key=LAKE_MAINTENANCE,
    group_name="maintenance",
    kinds={"delta"},
    **other_asset(LAKE_MAINTENANCE),
    description="Compacts every Delta table's small files (same rows, a new version), writes a "
    "log checkpoint and vacuums files no version younger than the retention references. "
    "Metadata: live files and bytes before and after, per table and in total.",
)
def lake_maintenance(
    context: AssetExecutionContext, config: MaintenanceConfig, lakehouse: Lakehouse
) -> MaterializeResult:
    retention = check_retention(config.retention_hours)
    outcomes = []
    # The old shared tables too, while a lake from before the split holds them: the union
    # views still read their rows written before the upgrade.
    for table in (*ALL_TABLES, *LEGACY_TABLES):
        if lakehouse.delta_table(table) is None:
            continue

        def once(table: str = table):
            # A writer that commits meanwhile makes compaction conflict: start again on the
            # newer version (compaction changes no row, so repeating it is safe).
            return maintain(table, lakehouse.delta_table(table), retention)  # type: ignore[arg-type]

        outcome = retry_on_conflict(once, f"{table} (maintenance)")
        context.log.info(f"{table}: {outcome}")
        outcomes.append(outcome.as_dict())
    total = {
        key: sum(int(o[key]) for o in outcomes)
        for key in ("files_before", "files_after", "bytes_before", "bytes_after", "files_vacuumed")
    }
    return MaterializeResult(
        metadata={
            **{name: MetadataValue.int(value) for name, value in total.items()},
            "retention_hours": MetadataValue.int(retention),
            "tables": MetadataValue.json(outcomes),
        }
    )
