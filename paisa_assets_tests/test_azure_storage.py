"""The batch pipeline with the landing zone and the lake on Azure Storage, tested on Azurite
(the Azure Storage emulator from npm, started by these tests on a free loopback port)."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance, build_init_resource_context

from paisa_assets.generator import generate_landing_zone
from paisa_assets.lake_views import count_view, read_view
from paisa_assets.resources.adls_landing_zone import AdlsLandingZone
from paisa_assets.resources.azure_storage import AzureStorage, split_uri
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.runner import sync_partitions
from paisa_assets.tables import (
    BRONZE_QUARANTINE,
    BRONZE_REVIEWS,
    GOLD_KPIS,
    GOLD_TABLES,
    SILVER_METADATA,
    SILVER_REVIEWS,
)
from paisa_assets_tests.conftest import make_workspace, materialize_all
from paisa_assets_tests.support.azurite import ACCOUNT, KEY, storage, upload_tree
from paisa_assets_tests.support.ports import free_port

pytestmark = pytest.mark.slow  # service-bound: Azurite


def test_batch_pipeline_with_landing_zone_and_lake_on_azurite(azurite: str, tmp_path: Path) -> None:
    azure = storage(azurite)
    service = azure.blob_service()
    local = tmp_path / "generated"
    report = generate_landing_zone(
        local, reviews=2_000, review_partitions=4, metadata_partitions=2, seed=17, progress=False
    )
    upload_tree(service, local, "az://pipeline-source/datathon")
    # A real Gen2 account lists directories as placeholder blobs: they must be skipped.
    service.get_container_client("pipeline-source").upload_blob(
        "datathon/amazon_reviews/partition_0", b"", metadata={"hdi_isfolder": "true"}
    )
    # Containers of its own: the worker's Azurite is shared with other modules (test_secrets).
    service.create_container("pipeline-lake")
    landing = AdlsLandingZone(root="az://pipeline-source/datathon", azure=azure)
    lake = Lakehouse(root="az://pipeline-lake/paisa", azure=azure)
    workspace = make_workspace(tmp_path, landing=landing, lakehouse=lake)
    assert landing.list_partitions("amazon_reviews") == [f"partition_{n}" for n in range(4)]
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, landing)
        materialize_all(instance, workspace)
        assert lake.count(BRONZE_REVIEWS) == report.reviews.parsed_rows
        assert count_view(lake, BRONZE_QUARANTINE) == (
            report.reviews.malformed_lines + report.metadata.malformed_lines
        )
        assert lake.count(SILVER_REVIEWS) == report.reviews.unique_keys == 2_000
        assert lake.count(SILVER_METADATA) == report.metadata.unique_keys
        assert lake.read(GOLD_KPIS)["reviews"].to_list() == [2_000]
        blobs = [b.name for b in service.get_container_client("pipeline-lake").list_blobs()]
        assert any(name.startswith("paisa/silver/amazon_reviews/_delta_log/") for name in blobs)
        before = {table: lake.version(table) for table in (BRONZE_REVIEWS, SILVER_REVIEWS)}
        materialize_all(instance, workspace)
        assert {t: lake.version(t) for t in before} == before
    import duckdb

    with duckdb.connect(str(workspace.warehouse.database_path()), read_only=True) as con:
        assert con.execute("select reviews from gold.kpis").fetchone() == (2_000,)
    assert len(GOLD_TABLES) == 4


def test_a_wrong_key_fails_fast_naming_the_setting_and_hiding_the_secret(azurite: str) -> None:
    wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="
    storage(azurite).blob_service().get_container_client("present").create_container()
    landing = AdlsLandingZone(root="az://present", azure=storage(azurite, key=wrong))
    with pytest.raises(ConnectionError) as failure:
        landing.check()
    message = str(failure.value)
    assert "cannot open the landing container 'present'" in message
    assert "PAISA_AZURE_STORAGE_KEY" in message
    assert wrong not in message and KEY not in message
    lake = Lakehouse(root="az://present/lake", azure=storage(azurite, key=wrong))
    with pytest.raises(ConnectionError, match="cannot open the lake container 'present'"):
        lake.setup_for_execution(build_init_resource_context())


def test_a_connection_string_reaches_the_same_account(azurite: str, tmp_path: Path) -> None:
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint={azurite};"
    )
    azure = AzureStorage(connection_string=connection)
    azure.blob_service().get_container_client("by-string").create_container()
    azure.blob_service().get_container_client("by-string").upload_blob(
        "amazon_reviews/partition_9/part-0.json", b'{"asin": "B1"}\n'
    )
    landing = AdlsLandingZone(root="az://by-string", azure=azure)
    assert [f.path for f in landing.list_files("amazon_reviews")] == [
        "amazon_reviews/partition_9/part-0.json"
    ]
    lake = Lakehouse(root="az://by-string/lake", azure=azure)
    lake.setup_for_execution(build_init_resource_context())
    lake.overwrite_where("bronze.t", pl.DataFrame({"a": [1, 2]}), "a > 0")
    assert lake.count("bronze.t") == 2


def test_a_missing_container_and_an_unreachable_endpoint_are_clear(azurite: str) -> None:
    landing = AdlsLandingZone(root="az://no-such-container/x", azure=storage(azurite))
    with pytest.raises(ConnectionError, match="cannot open the landing container 'no-such-"):
        landing.list_files("amazon_reviews")
    closed = f"http://127.0.0.1:{free_port()}/{ACCOUNT}"
    lake = Lakehouse(root="az://lake/x", azure=storage(closed))
    with pytest.raises(ConnectionError) as failure:
        lake.setup_for_execution(build_init_resource_context())
    assert "PAISA_AZURE_STORAGE_ENDPOINT" in str(failure.value)
    assert KEY not in str(failure.value)


def test_uris_name_a_container_and_a_prefix() -> None:
    assert split_uri("az://source-files") == ("source-files", "")
    assert split_uri("az://lake/paisa/") == ("lake", "paisa/")
    assert split_uri("abfss://lake@acct.dfs.core.windows.net/a/b") == ("lake", "a/b/")
    with pytest.raises(ValueError, match="not an Azure storage URI"):
        split_uri("s3://bucket/x")
    assert shutil.which("node") is not None  # Azurite runs on the machine's Node.js


def test_sync_partitions_lists_the_configured_abfss_landing_zone(
    azurite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`paisa sync-partitions` uses PAISA_LANDING_ROOT as the sensor does, abfss:// form too."""
    from click.testing import CliRunner

    from paisa_assets.cli import main

    service = storage(azurite).blob_service()
    client = service.get_container_client("sync-source")
    client.create_container()
    for folder in ("partition_2", "partition_10", "_temporary"):
        client.upload_blob(f"landing/amazon_reviews/{folder}/part-0.json", b'{"asin": "B1"}\n')
    client.upload_blob("landing/amazon_metadata/partition_0/part-0.json", b'{"asin": "B1"}\n')
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(
        "PAISA_LANDING_ROOT", f"abfss://sync-source@{ACCOUNT}.dfs.core.windows.net/landing"
    )
    monkeypatch.setenv("PAISA_AZURE_STORAGE_ACCOUNT", ACCOUNT)
    monkeypatch.setenv("PAISA_AZURE_STORAGE_KEY", KEY)
    monkeypatch.setenv("PAISA_AZURE_STORAGE_ENDPOINT", azurite)
    result = CliRunner().invoke(main, ["sync-partitions"])
    assert result.exit_code == 0, result.output
    assert "amazon_reviews: 2 new partition(s) from abfss://sync-source@" in result.output
    assert "amazon_metadata: 1 new partition(s)" in result.output
    assert KEY not in result.output
    with DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("amazon_reviews_folders") == [
            "partition_2",
            "partition_10",
        ]
    again = CliRunner().invoke(main, ["sync-partitions"])
    assert "amazon_reviews: 0 new partition(s)" in again.output, again.output


def test_a_blob_deleted_after_listing_is_quarantined_and_the_rest_lands(
    azurite: str, tmp_path: Path
) -> None:
    from paisa_assets.bronze_ingest import ingest_partitions
    from paisa_assets.transforms.schemas import BRONZE_REVIEWS_COLUMNS

    azure = storage(azurite)
    client = azure.blob_service().get_container_client("vanishing")
    client.create_container()
    client.upload_blob("amazon_reviews/partition_0/a.json", b'{"asin": "B1", "reviewerID": "R"}\n')
    client.upload_blob("amazon_reviews/partition_0/b.json", b'{"asin": "B2", "reviewerID": "R"}\n')
    landing = AdlsLandingZone(root="az://vanishing", azure=azure)
    listed = landing.list_files("amazon_reviews")
    # A same-size rewrite changes the fingerprint: on Azure it holds the blob's ETag.
    client.upload_blob(
        "amazon_reviews/partition_0/a.json", b'{"asin": "B1", "reviewerID": "Q"}\n', overwrite=True
    )
    [rewritten, _] = landing.list_files("amazon_reviews")
    assert rewritten.size == listed[0].size == 34
    assert rewritten.fingerprint != listed[0].fingerprint
    client.delete_blob("amazon_reviews/partition_0/b.json")

    class Listed(AdlsLandingZone):
        def list_files(self, dataset: str, partition: str | None = None):
            return listed  # the listing from before the deletion

    lake = Lakehouse(root=str(tmp_path / "lake"))
    outcome = ingest_partitions(
        Listed(root="az://vanishing", azure=azure),
        lake,
        dataset="amazon_reviews",
        table=BRONZE_REVIEWS,
        columns=BRONZE_REVIEWS_COLUMNS,
        partitions=["partition_0"],
    )
    assert (outcome.rows_written, outcome.rows_quarantined) == (1, 1)
    assert read_view(lake, BRONZE_QUARANTINE).select("_source_file", "reason").rows() == [
        (
            "amazon_reviews/partition_0/b.json",
            "unreadable file: it vanished after it was listed (deleted or moved)",
        )
    ]
