"""Dynamic partitions: one partition per landing folder, added by the landing-zone sensor."""

import re
import warnings

from dagster import DynamicPartitionsDefinition

from paisa_assets.registry import DATASETS, LANDING_DATASETS, METADATA_DATASET, REVIEWS_DATASET

# Single-run backfills (one run for a range of landing folders) are what the CLI's
# --partition-range needs; Dagster labels the parameter beta, which is noise on every import.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")

# One partition per landing folder, for each landing dataset of the registry.
PARTITIONS = {
    dataset: DynamicPartitionsDefinition(name=DATASETS[dataset].partitions)
    for dataset in LANDING_DATASETS
}
reviews_partitions = PARTITIONS[REVIEWS_DATASET]
metadata_partitions = PARTITIONS[METADATA_DATASET]
# Tags of a run over a range of partitions (Dagster's names; its constants are private).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: str, last: str) -> dict[str, str]:
    """The tags that make one run materialize partitions `first` to `last` (single-run
    backfill policy), in the order the partitions were added."""
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def natural_key(text: str) -> list[object]:
    """partition_2 before partition_10: the order folders are added in, so ranges follow it."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
