"""How DuckDB reads Delta versions, how a MERGE is planned, and the gold word count.

These are the performance paths of issue 7: each test pins the behaviour the speed-up relies
on (no file rewritten, only the needed columns read) and that the result is still exact.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from paisa_assets.delta_duckdb import ArrowStream, parquet_view, register_version
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.silver_merge import in_arrival_order
from paisa_assets.transforms.gold import with_computed_columns

HOSTILE = "it's a b/..%x"


def _removed_files(lake: Lakehouse, table: str) -> int:
    last = lake.delta_table(table).history(limit=1)[0]  # type: ignore[union-attr]
    return int(last["operationMetrics"].get("num_target_files_removed", 0))


def _rows(lake: Lakehouse, table: str) -> list[tuple]:
    return sorted(lake.read(table).select("id", "v", "owner").rows())


@pytest.fixture
def lake(tmp_path: Path) -> Lakehouse:
    lake = Lakehouse(root=str(tmp_path / "lake"))
    for part in (["a", "b"], ["c", "d"]):  # two files
        frame = pl.DataFrame({"id": part, "v": [1, 1], "owner": ["p1", "p1"]})
        lake.merge("silver.t", frame, keys=["id"], update_when="s.v > t.v")
    return lake


def test_a_merge_that_only_adds_keys_rewrites_no_file(lake: Lakehouse) -> None:
    source = pl.DataFrame({"id": ["a", "e"], "v": [0, 5], "owner": ["p2", "p2"]})
    metrics = lake.merge(
        "silver.t", source, keys=["id"], update_when="s.v > t.v", delete_unmatched_when="FALSE"
    )
    assert (metrics["num_target_rows_inserted"], metrics["num_target_rows_updated"]) == (1, 0)
    assert metrics["num_source_rows"] == 2
    assert metrics["num_target_files_removed"] == 0  # an append: the two files stay as they are
    assert lake.delta_table("silver.t").history(limit=1)[0]["operation"] == "WRITE"
    assert _rows(lake, "silver.t") == [
        ("a", 1, "p1"),
        ("b", 1, "p1"),
        ("c", 1, "p1"),
        ("d", 1, "p1"),
        ("e", 5, "p2"),
    ]


def test_a_merge_that_updates_or_deletes_still_does_so_exactly(lake: Lakehouse) -> None:
    source = pl.DataFrame({"id": ["a", "f"], "v": [9, 1], "owner": ["p1", "p1"]})
    metrics = lake.merge(
        "silver.t",
        source,
        keys=["id"],
        update_when="s.v > t.v",
        delete_unmatched_when="t.owner = 'p1' AND t.id IN ('c')",
    )
    assert metrics["num_target_rows_updated"] == 1
    assert metrics["num_target_rows_deleted"] == 1
    assert metrics["num_target_rows_inserted"] == 1
    assert _rows(lake, "silver.t") == [
        ("a", 9, "p1"),
        ("b", 1, "p1"),
        ("d", 1, "p1"),
        ("f", 1, "p1"),
    ]
    assert _removed_files(lake, "silver.t") >= 1


def test_a_merge_without_update_predicate_updates_every_match(lake: Lakehouse) -> None:
    source = pl.DataFrame({"id": ["b"], "v": [0], "owner": ["p3"]})
    metrics = lake.merge("silver.t", source, keys=["id"])
    assert metrics["num_target_rows_updated"] == 1
    assert ("b", 0, "p3") in _rows(lake, "silver.t")


def test_a_merge_scoped_to_where_its_matches_sit_finds_them_there(lake: Lakehouse) -> None:
    # Gold's case: the caller knows a source key can only match a row of one kind (here the
    # owner p2's): the plan reads only those, and still updates the match and inserts the rest.
    lake.merge("silver.t", pl.DataFrame({"id": ["s"], "v": [1], "owner": ["p2"]}), keys=["id"])
    source = pl.DataFrame({"id": ["s", "n"], "v": [7, 3], "owner": ["p2", "p2"]})
    metrics = lake.merge("silver.t", source, keys=["id"], match_scope="owner = 'p2'")
    assert (metrics["num_target_rows_updated"], metrics["num_target_rows_inserted"]) == (1, 1)
    new_only = pl.DataFrame({"id": ["m"], "v": [2], "owner": ["p2"]})
    appended = lake.merge("silver.t", new_only, keys=["id"], match_scope="owner = 'p2'")
    assert appended["num_target_files_removed"] == 0  # nothing matched: an append
    assert _rows(lake, "silver.t") == [
        ("a", 1, "p1"),
        ("b", 1, "p1"),
        ("c", 1, "p1"),
        ("d", 1, "p1"),
        ("m", 2, "p2"),
        ("n", 3, "p2"),
        ("s", 7, "p2"),
    ]


def test_parquet_view_reads_partition_values_exactly_in_schema_order(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    table = pa.table({"_partition": [HOSTILE, "2023", "plain"], "v": [1, 2, 3]})
    write_deltalake(uri, table, partition_by=["_partition"])
    dt = DeltaTable(uri)
    view = parquet_view(dt)
    assert view is not None and "read_parquet" in view
    with duckdb.connect() as con:
        register_version(con, "t", dt, local=True)
        assert [c[0] for c in con.sql("DESCRIBE t").fetchall()] == ["_partition", "v"]
        rows = con.sql("SELECT _partition, v FROM t ORDER BY v").fetchall()
        assert rows == [(HOSTILE, 1), ("2023", 2), ("plain", 3)]  # '2023' stays a string
        assert con.sql("SELECT typeof(_partition) FROM t LIMIT 1").fetchall() == [("VARCHAR",)]
        quoted = "it''s a b/..%x"
        assert con.sql(f"SELECT count(*) FROM t WHERE _partition = '{quoted}'").fetchall() == [(1,)]


def test_empty_or_remote_versions_are_streamed(tmp_path: Path) -> None:
    uri = str(tmp_path / "empty")
    write_deltalake(uri, pa.schema([("id", pa.string())]).empty_table())
    dt = DeltaTable(uri)
    assert parquet_view(dt) is None  # no file to read
    with duckdb.connect() as con:
        register_version(con, "e", dt, local=True)
        assert con.sql("SELECT count(*) FROM e").fetchall() == [(0,)]
    write_deltalake(uri, pa.table({"id": ["x"]}), mode="append")
    with duckdb.connect() as con:
        register_version(con, "r", DeltaTable(uri), local=False, columns=["id"])
        assert con.sql("SELECT id FROM r").fetchall() == [("x",)]
    assert isinstance(ArrowStream(DeltaTable(uri).to_pyarrow_dataset()), ArrowStream)


def test_warehouse_session_sees_the_latest_version_through_views(lake: Lakehouse) -> None:
    warehouse = Warehouse(path=str(Path(lake.root).parent / "w.duckdb"))
    lake.merge("silver.t", pl.DataFrame({"id": ["z"], "v": [3], "owner": ["p9"]}), keys=["id"])
    with warehouse.session(lake, {"t": "silver.t"}) as con:
        assert con.sql("SELECT count(*), sum(v) FROM t").fetchall() == [(5, 7)]
        kinds = con.sql("SELECT table_type FROM information_schema.tables WHERE table_name = 't'")
        assert kinds.fetchall() == [("VIEW",)]


def test_word_counts_are_runs_of_non_whitespace_and_keys_the_ids_images() -> None:
    texts = ["two  words", "\ttabs\tand\nlines\n", "", None, "no\u00a0break", "one"]
    ids = ["0" * 16, "f" * 16, "d78efd414a8633a7", None, "8", "8000000000000000"]
    batch = pa.record_batch(
        {
            "review_id": ids,
            "review_text": texts,
            "review_words": pa.nulls(len(texts), pa.int32()),
            "_review_key": pa.nulls(len(texts), pa.int64()),
        }
    )
    reader = with_computed_columns(pa.RecordBatchReader.from_batches(batch.schema, [batch]))
    result = reader.read_all()
    assert result.column("review_words").to_pylist() == [2, 3, 0, 0, 2, 1]
    assert result.column("review_text").to_pylist() == texts
    assert result.schema.field("review_words").type == pa.int32()
    assert result.column("_review_key").to_pylist() == [
        -(2**63),
        2**63 - 1,
        0xD78EFD414A8633A7 - 2**63,
        None,
        None,  # not a review id: no image
        0,
    ]
    assert result.schema.field("_review_key").type == pa.int64()


def test_partitions_are_merged_in_position_order() -> None:
    """The order of `transforms.dedupe`'s positions: a folder name by length, then by text, so
    partition_2 comes before partition_10 (the duplicate rule's order, not the files' string
    order)."""
    keys = ["partition_10", "partition_2", "partition_1", "p1-x", "p1"]
    ordered = in_arrival_order(keys)
    assert ordered == ["p1", "p1-x", "partition_1", "partition_2", "partition_10"]


@pytest.mark.reliability
def test_an_append_planned_on_a_stale_version_is_planned_again(
    lake: Lakehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer adds the same key between this MERGE's plan and its commit: the append
    must not land a second copy, but plan again and find the key there."""
    from paisa_assets.resources import lakehouse as lakehouse_module

    real_plan = lakehouse_module.plan_merge
    plans: list[int] = []

    def plan_then_lose_the_race(target: DeltaTable, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        plan = real_plan(target, *args, **kwargs)  # type: ignore[arg-type]
        plans.append(target.version())
        if len(plans) == 1:  # a rival commits the same new key right after this plan
            write_deltalake(
                lake.uri("silver.t"),
                pa.table({"id": ["e"], "v": pa.array([7], pa.int64()), "owner": ["rival"]}),
                mode="append",
            )
        return plan

    monkeypatch.setattr(lakehouse_module, "plan_merge", plan_then_lose_the_race)
    source = pl.DataFrame({"id": ["e"], "v": [5], "owner": ["p2"]})
    metrics = lake.merge("silver.t", source, keys=["id"], update_when="s.v > t.v")
    assert len(plans) == 2 and plans[1] == plans[0] + 1  # planned again on the rival's version
    assert metrics["num_target_rows_inserted"] == 0
    assert [r for r in _rows(lake, "silver.t") if r[0] == "e"] == [("e", 7, "rival")]
