"""Resources: names never widen a predicate or escape the landing root; the lake round-trips."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from paisa_assets.resources.lakehouse import TABLE_CONFIGURATION, Lakehouse
from paisa_assets.resources.landing_zone import LocalLandingZone
from paisa_assets.sql_quoting import sql_string


def test_sql_string_doubles_quotes() -> None:
    assert sql_string("partition_1") == "'partition_1'"
    assert sql_string("it's") == "'it''s'"
    assert sql_string("x' OR '1'='1") == "'x'' OR ''1''=''1'"


def test_a_quoted_name_does_not_widen_an_overwrite(tmp_path: Path) -> None:
    lake = Lakehouse(root=str(tmp_path))
    frame = pl.DataFrame({"name": ["a", "x' OR '1'='1", "b"], "value": [1, 2, 3]})
    lake.overwrite_where("bronze.t", frame, "value > 0")
    replacement = pl.DataFrame({"name": ["x' OR '1'='1"], "value": [20]})
    lake.overwrite_where("bronze.t", replacement, f"name = {sql_string(replacement['name'][0])}")
    assert lake.read("bronze.t").sort("name").rows() == [
        ("a", 1),
        ("b", 3),
        ("x' OR '1'='1", 20),
    ]


def test_merge_without_changes_makes_no_commit(tmp_path: Path) -> None:
    lake = Lakehouse(root=str(tmp_path))
    frame = pl.DataFrame({"k": ["a", "b"], "v": [1, 2]})
    lake.merge("silver.t", frame, keys=["k"], update_when="t.v <> s.v")
    version = lake.version("silver.t")
    metrics = lake.merge("silver.t", frame, keys=["k"], update_when="t.v <> s.v")
    assert metrics["num_target_rows_updated"] == 0
    assert lake.version("silver.t") == version
    lake.merge(
        "silver.t", pl.DataFrame({"k": ["b"], "v": [5]}), keys=["k"], update_when="t.v <> s.v"
    )
    assert lake.read("silver.t").sort("k").rows() == [("a", 1), ("b", 5)]


def test_tables_checkpoint_every_ten_commits_old_ones_too(tmp_path: Path) -> None:
    # Every open replays the log since the last checkpoint: tables the lakehouse creates (by
    # any writer) checkpoint every ten commits; a table written before gains the property on
    # its next write.
    lake = Lakehouse(root=str(tmp_path))
    old = tmp_path / "silver" / "old"
    write_deltalake(str(old), pa.table({"k": ["a"], "v": [0]}))
    for n in range(1, 13):
        frame = pl.DataFrame({"k": [f"k{n}"], "v": [n]})
        lake.merge("silver.t", frame, keys=["k"])
        lake.replace("gold.t", frame)
        lake.merge("silver.old", frame, keys=["k"])
    for table in ("silver.t", "gold.t", "silver.old"):
        dt = DeltaTable(lake.uri(table))
        assert dt.metadata().configuration == TABLE_CONFIGURATION
        checkpoints = sorted(p.name for p in Path(lake.uri(table), "_delta_log").glob("*.parquet"))
        assert checkpoints, table
        # the latest checkpoint is at most ten commits behind
        assert dt.version() - int(checkpoints[-1].split(".")[0]) < 10
    assert lake.read("silver.old").height == 13


def test_missing_table_reads_empty_only_with_a_schema(tmp_path: Path) -> None:
    lake = Lakehouse(root=str(tmp_path))
    assert lake.read("gold.none", schema={"a": pl.Int64()}).height == 0
    assert lake.count("gold.none") == 0
    with pytest.raises(LookupError, match=r"gold\.none does not exist yet"):
        lake.read("gold.none")
    with pytest.raises(ValueError, match=r"layer\.name"):
        lake.uri("no_layer")


def test_landing_zone_refuses_paths_outside_its_root(tmp_path: Path) -> None:
    (tmp_path / "landing" / "amazon_reviews" / "partition_0").mkdir(parents=True)
    (tmp_path / "secret.json").write_text("{}")
    landing = LocalLandingZone(root=str(tmp_path / "landing"))
    with pytest.raises(ValueError, match="escapes the landing root"):
        landing.open("amazon_reviews/../../secret.json")
    with pytest.raises(ValueError, match="is not a landing folder name"):
        landing.list_files("amazon_reviews", "../..")


def test_landing_zone_lists_data_files_and_skips_hidden_ones(tmp_path: Path) -> None:
    folder = tmp_path / "amazon_reviews" / "partition 1 'odd'"
    folder.mkdir(parents=True)
    (folder / "part-0.json.gz").write_bytes(b"")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-0.json.gz.crc").write_bytes(b"")
    (tmp_path / "amazon_reviews" / "_temporary").mkdir()
    landing = LocalLandingZone(root=str(tmp_path))
    assert landing.list_partitions("amazon_reviews") == ["partition 1 'odd'"]
    files = landing.list_files("amazon_reviews")
    assert [f.path for f in files] == ["amazon_reviews/partition 1 'odd'/part-0.json.gz"]
    assert files[0].partition == "partition 1 'odd'"
    assert landing.list_files("amazon_metadata") == []


def test_environment_variables_switch_to_azure_without_exposing_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dagster import EnvVar

    from paisa_assets.definitions import default_lakehouse, default_landing_zone
    from paisa_assets.resources.adls_landing_zone import AdlsLandingZone

    assert isinstance(default_landing_zone(), LocalLandingZone)
    monkeypatch.setenv("PAISA_LANDING_ROOT", "abfss://source-files@acct.dfs.core.windows.net")
    monkeypatch.setenv("PAISA_LAKE_ROOT", "az://lake/paisa")
    monkeypatch.setenv("PAISA_AZURE_STORAGE_ACCOUNT", "acct")
    monkeypatch.setenv("PAISA_AZURE_STORAGE_KEY", "c2VjcmV0")
    landing = default_landing_zone()
    lake = default_lakehouse()
    assert isinstance(landing, AdlsLandingZone)
    assert landing.azure.account_key == EnvVar("PAISA_AZURE_STORAGE_KEY")
    assert lake.azure is not None and lake.azure.account_key == EnvVar("PAISA_AZURE_STORAGE_KEY")
    assert "c2VjcmV0" not in repr(landing) + repr(lake)
