"""Checks on the side tables, keyed as the registry declares them: a manifest that listed a
landing file twice (or without a path) would make the sensor's view of what is ingested
ambiguous."""

from paisa_assets import registry
from paisa_assets.checks import unique_key_check
from paisa_assets.tables import BRONZE_METADATA_FILES, BRONZE_REVIEWS_FILES

side_table_checks = [
    unique_key_check(table, list(registry.table(table).key))
    for table in (BRONZE_REVIEWS_FILES, BRONZE_METADATA_FILES)
]
