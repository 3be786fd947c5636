"""Dynamic partitions: one partition per landing folder, added by the landing-zone sensor."""

import warnings

from dagster import DynamicPartitionsDefinition

# Single-run backfills (one run for a range of landing folders) are what the CLI's
# --partition-range needs; Dagster labels the parameter beta, which is noise on every import.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")

reviews_partitions = DynamicPartitionsDefinition(name="amazon_reviews_folders")
metadata_partitions = DynamicPartitionsDefinition(name="amazon_metadata_folders")
