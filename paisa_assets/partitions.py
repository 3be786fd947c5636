"""Dynamic partitions: one partition per landing folder, added by the landing-zone sensor."""

from dagster import DynamicPartitionsDefinition

reviews_partitions = DynamicPartitionsDefinition(name="amazon_reviews_folders")
metadata_partitions = DynamicPartitionsDefinition(name="amazon_metadata_folders")
