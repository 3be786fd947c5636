"""Dynamic partitions: one partition per landing folder, added by the landing-zone sensor."""

import re
import warnings

from dagster import DynamicPartitionsDefinition

from paisa_assets.resources.landing_zone import METADATA_DATASET, REVIEWS_DATASET

# Single-run backfills (one run for a range of landing folders) are what the CLI's
# --partition-range needs; Dagster labels the parameter beta, which is noise on every import.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")

reviews_partitions = DynamicPartitionsDefinition(name="amazon_reviews_folders")
metadata_partitions = DynamicPartitionsDefinition(name="amazon_metadata_folders")
PARTITIONS = {REVIEWS_DATASET: reviews_partitions, METADATA_DATASET: metadata_partitions}


def natural_key(text: str) -> list[object]:
    """partition_2 before partition_10: the order folders are added in, so ranges follow it."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
