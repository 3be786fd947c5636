"""A table's changes between two versions leave out what compaction only moved: the first run
after the daily maintenance reads what changed, not every compacted file."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake

from paisa_assets.delta_changes import file_diff, rows_by_partition_value
from paisa_assets.materialization_metadata import rows_per_partition
from paisa_assets.resources.lakehouse import Lakehouse, to_arrow

TABLE = "silver.t"


@pytest.fixture
def lake(tmp_path: Path) -> Lakehouse:
    """Three single-row files, unpartitioned (as a quarantine table): version 2."""
    lake = Lakehouse(root=str(tmp_path))
    for key in ("a", "b", "c"):
        append(lake, key)
    assert lake.version(TABLE) == 2
    return lake


def append(lake: Lakehouse, key: str) -> None:
    rows = to_arrow(pl.DataFrame({"k": [key], "v": [1]}))
    write_deltalake(lake.uri(TABLE), rows, mode="append")


def compact(lake: Lakehouse) -> None:
    metrics = DeltaTable(lake.uri(TABLE)).optimize.compact()
    assert metrics["numFilesRemoved"] > 1


def rows(files: list[str]) -> list[str]:
    return sorted(pl.read_parquet(files)["k"].to_list()) if files else []


def test_a_compaction_of_unchanged_rows_is_no_change(lake: Lakehouse) -> None:
    compact(lake)
    diff = file_diff(lake, TABLE, 2)
    assert (diff.added, diff.removed, diff.changed_rows) == ([], [], 0)
    # and rows added after it are all that changed
    append(lake, "d")
    diff = file_diff(lake, TABLE, 2)
    assert (rows(diff.added), diff.removed) == (["d"], [])


def test_rows_added_then_compacted_with_old_ones_are_changes(lake: Lakehouse) -> None:
    append(lake, "d")
    compact(lake)  # reads the new row's file too: its output holds a changed row
    diff = file_diff(lake, TABLE, 2)
    assert rows(diff.added) == ["a", "b", "c", "d"]
    assert rows(diff.removed) == ["a", "b", "c"]


def test_compacted_rows_a_later_change_rewrote_are_changes(lake: Lakehouse) -> None:
    compact(lake)
    lake.merge(TABLE, pl.DataFrame({"k": ["b"], "v": [2]}), keys=["k"])
    diff = file_diff(lake, TABLE, 2)
    assert rows(diff.removed) == ["a", "b", "c"]
    assert sorted(pl.read_parquet(diff.added).rows()) == [("a", 1), ("b", 2), ("c", 1)]


def test_without_the_commits_the_plain_file_diff_stands(lake: Lakehouse) -> None:
    compact(lake)
    log = Path(lake.uri(TABLE), "_delta_log")
    DeltaTable(lake.uri(TABLE)).create_checkpoint()
    (log / f"{3:020d}.json").unlink()  # as a log cleaned up (the checkpoint still loads it)
    diff = file_diff(lake, TABLE, 2)
    assert rows(diff.added) == ["a", "b", "c"] and rows(diff.removed) == ["a", "b", "c"]


def test_a_folder_name_with_quotes_spaces_and_percents_is_diffed_by_its_files(
    tmp_path: Path,
) -> None:
    # Partition folders are percent-encoded on disk and again in the log: the diff names the
    # files on disk (readable), and a compaction there is no change either.
    lake = Lakehouse(root=str(tmp_path))
    folder = "it's a/b=c%"
    for key in ("a", "b", "c"):
        rows = to_arrow(pl.DataFrame({"k": [key], "_partition": [folder]}))
        write_deltalake(lake.uri(TABLE), rows, mode="append", partition_by=["_partition"])
    lake.merge(
        TABLE, pl.DataFrame({"k": ["d"], "_partition": [folder]}), keys=["k"], insert_only=True
    )
    diff = file_diff(lake, TABLE, 2)
    assert diff.readable and rows_of(diff.added) == ["d"]
    assert all(Path(f).exists() for f in diff.added)
    # named as the table's file URIs name them (readers compare the two)
    assert set(diff.added) <= set(DeltaTable(lake.uri(TABLE)).file_uris())
    before = lake.version(TABLE)
    assert before is not None
    compact(lake)
    diff = file_diff(lake, TABLE, before)
    assert (diff.added, diff.removed, diff.readable) == ([], [], True)


def rows_of(files: list[str]) -> list[str]:
    return sorted(pl.read_parquet(files, hive_partitioning=False)["k"].to_list())


def test_rows_per_folder_come_from_the_log_and_match_a_scan(tmp_path: Path) -> None:
    """A full load's chunking and per-folder figures count rows per folder: from the log's
    file statistics for a table partitioned by the folder (after appends, a MERGE that
    rewrote a file, a delete and a compaction), by a scan for one that is not."""
    lake = Lakehouse(root=str(tmp_path))
    folders = ["p 1", "it's", "p%2"]
    for n, folder in enumerate(folders):
        frame = pl.DataFrame({"_partition": [folder] * (n + 2), "k": range(10 * n, 10 * n + n + 2)})
        write_deltalake(
            lake.uri(TABLE), to_arrow(frame), mode="append", partition_by=["_partition"]
        )
    write_deltalake(
        lake.uri(TABLE),
        to_arrow(pl.DataFrame({"_partition": ["p 1"] * 3, "k": [0, 1, 99]})),
        mode="append",
        partition_by=["_partition"],
    )
    dt = DeltaTable(lake.uri(TABLE))
    dt.delete("k = 20 OR k = 1")
    DeltaTable(lake.uri(TABLE)).optimize.compact()
    scanned = dict(lake.read(TABLE).group_by("_partition").len().iter_rows())
    assert scanned == {"p 1": 3, "it's": 3, "p%2": 3}
    assert rows_by_partition_value(DeltaTable(lake.uri(TABLE)), "_partition") == scanned
    assert rows_per_partition(lake, TABLE, ["p 1", "p%2", "gone"]) == {"p 1": 3, "p%2": 3}
    assert rows_by_partition_value(DeltaTable(lake.uri(TABLE)), "k") is None

    flat = "silver.flat"
    write_deltalake(lake.uri(flat), to_arrow(pl.DataFrame({"_partition": ["a", "a", "b"]})))
    assert rows_by_partition_value(DeltaTable(lake.uri(flat)), "_partition") is None
    assert rows_per_partition(lake, flat, ["a", "b"]) == {"a": 2, "b": 1}
