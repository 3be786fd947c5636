"""The registry is the one declaration of datasets and tables: the asset specs, the code's
schemas and docs/table_contracts.md all agree with it."""

from __future__ import annotations

import polars as pl
import pytest
from dagster import AssetKey

from paisa_assets import registry, table_contracts
from paisa_assets.bronze_ingest import MANIFEST_SCHEMA, QUARANTINE_SCHEMA
from paisa_assets.dashboard.queries import SOURCES
from paisa_assets.definitions import defs
from paisa_assets.jobs import INGEST_JOBS, streaming_job
from paisa_assets.ml.evaluations_table import MODEL_EVALUATIONS_SCHEMA
from paisa_assets.ml.sentiment_scoring import REVIEW_SENTIMENT_SCHEMA
from paisa_assets.partitions import PARTITIONS
from paisa_assets.silver_merge import SILVER_QUARANTINE_SCHEMA
from paisa_assets.tables import ALL_TABLES, UNION_VIEWS, asset_key
from paisa_assets.transforms.schemas import (
    BRONZE_METADATA_SCHEMA,
    BRONZE_REVIEWS_SCHEMA,
    SILVER_METADATA_SCHEMA,
    SILVER_REVIEWS_SCHEMA,
)
from paisa_assets.transforms.stream_events import EH_STREAMING_SCHEMA, REVIEWS_STREAMING_SCHEMA
from paisa_assets.transforms.stream_reviews import DECIDED_SCHEMA, SILVER_STREAM_SCHEMA

GRAPH = defs.resolve_asset_graph()


def test_the_committed_table_contracts_are_what_the_registry_generates() -> None:
    assert table_contracts.main(["--check"]) == 0


def test_every_table_is_registered_once() -> None:
    assert sorted(registry.TABLES) == sorted(ALL_TABLES)


@pytest.mark.parametrize("table", ALL_TABLES)
def test_every_table_asset_describes_each_of_its_columns(table: str) -> None:
    node = GRAPH.get(asset_key(table))
    schema = node.metadata["dagster/column_schema"]
    declared = registry.table(table).columns
    assert [c.name for c in schema.columns] == [c.name for c in declared]
    assert all(c.description and c.description.strip() for c in schema.columns)
    assert node.description and registry.table(table).description in node.description
    assert node.owners == [registry.table(table).owner]
    assert node.code_version == registry.table(table).code_version


def test_every_asset_has_a_layer_tag_an_owner_and_a_code_version() -> None:
    for key in GRAPH.get_all_asset_keys():
        node = GRAPH.get(key)
        assert node.tags.get("layer"), key
        assert node.owners, key
        assert node.code_version, key
    for key in ("sentiment_model", "recommender"):
        assert GRAPH.get(AssetKey(key)).tags["layer"] == "ml"


def test_the_stream_tables_and_only_they_have_a_freshness_policy() -> None:
    stream = set(registry.DATASETS[registry.STREAM_DATASET].tables)
    for table in ALL_TABLES:
        policy = GRAPH.get(asset_key(table)).freshness_policy
        assert (policy is not None) == (table in stream), table


def test_partitions_and_job_selections_come_from_the_datasets() -> None:
    for name, job in INGEST_JOBS.items():
        dataset = registry.DATASETS[name]
        assert PARTITIONS[name].name == dataset.partitions
        resolved = defs.resolve_job_def(job.name).asset_layer.selected_asset_keys
        assert resolved == {asset_key(t) for t in dataset.tables}
    resolved = defs.resolve_job_def(streaming_job.name).asset_layer.selected_asset_keys
    assert resolved == {asset_key(t) for t in registry.DATASETS["reviews_streaming"].tables}


def as_polars(schema: object) -> dict[str, pl.DataType]:
    if isinstance(schema, pl.Schema | dict):
        return dict(pl.Schema(schema))
    return dict(pl.from_arrow(schema.empty_table()).schema)  # a pyarrow schema


@pytest.mark.parametrize(
    ("table", "code_schema"),
    [
        ("bronze.amazon_reviews", BRONZE_REVIEWS_SCHEMA),
        ("bronze.amazon_metadata", BRONZE_METADATA_SCHEMA),
        ("bronze.amazon_reviews_quarantine", QUARANTINE_SCHEMA),
        ("bronze.reviews_streaming_quarantine", QUARANTINE_SCHEMA),
        ("bronze.amazon_metadata_ingested_files", MANIFEST_SCHEMA),
        ("bronze.eh_streaming", EH_STREAMING_SCHEMA),
        ("bronze.reviews_streaming", REVIEWS_STREAMING_SCHEMA),
        ("silver.amazon_reviews", SILVER_REVIEWS_SCHEMA),
        ("silver.amazon_metadata", SILVER_METADATA_SCHEMA),
        ("silver.amazon_reviews_quarantine", SILVER_QUARANTINE_SCHEMA),
        ("silver.reviews_streaming", SILVER_STREAM_SCHEMA),
        ("silver.reviews_streaming_quarantine", SILVER_QUARANTINE_SCHEMA),
        ("silver.reviews_streaming_decided", DECIDED_SCHEMA),
        ("gold.review_sentiment", REVIEW_SENTIMENT_SCHEMA),
        ("gold.sentiment_model_evaluations", MODEL_EVALUATIONS_SCHEMA),
        ("gold.recommender_evaluations", MODEL_EVALUATIONS_SCHEMA),
    ],
)
def test_the_code_writes_the_columns_the_registry_declares(table: str, code_schema) -> None:
    assert as_polars(code_schema) == dict(registry.table(table).polars_schema())


def test_the_dashboard_reads_columns_the_registry_declares() -> None:
    for name, source in SOURCES.items():
        assert len(source.schema) > 0, name
        for table in UNION_VIEWS.get(source.table, (source.table,)):
            declared = registry.table(table).polars_schema()
            assert {c: declared[c] for c in source.schema.names()} == dict(source.schema), name


def test_the_landing_sensor_waits_on_each_datasets_silver_table_from_the_registry() -> None:
    from paisa_assets.sensors.landing import SILVER_TABLES
    from paisa_assets.tables import SILVER_METADATA, SILVER_REVIEWS

    assert SILVER_TABLES == {
        registry.REVIEWS_DATASET: SILVER_REVIEWS,
        registry.METADATA_DATASET: SILVER_METADATA,
    }
    for dataset, table in SILVER_TABLES.items():
        assert registry.table(table).partitioned_by == dataset


def test_the_delta_partitioning_the_writers_use_is_the_registrys() -> None:
    """Silver's MERGE prunes by the column its tables are stored partitioned by: one layout,
    declared once (the tables on disk are held to it by the end-to-end test)."""
    from paisa_assets.silver_merge import SILVER_PARTITION_BY
    from paisa_assets.tables import BRONZE_EH_STREAMING, GOLD_KPIS, SILVER_METADATA, SILVER_REVIEWS

    assert SILVER_PARTITION_BY == ["_partition"]
    assert registry.delta_partition_by(SILVER_REVIEWS, SILVER_METADATA) == SILVER_PARTITION_BY
    assert registry.delta_partition_by(BRONZE_EH_STREAMING) == ["partition_id"]
    assert registry.delta_partition_by(GOLD_KPIS) == []
    with pytest.raises(ValueError, match="not partitioned alike"):
        registry.delta_partition_by(SILVER_REVIEWS, GOLD_KPIS)
    # Only a table's own columns can partition it.
    for table in registry.TABLES.values():
        names = {column.name for column in table.columns}
        assert set(table.delta_partition_by) <= names, table.name
    assert "Delta partition columns (one directory per value): `_partition`" in (
        table_contracts.render()
    )
