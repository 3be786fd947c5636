"""Incremental gold: the planner's choices, and an incrementally updated gold equal to a full
rebuild, row for row, after new batch folders, changed files, withdrawn keys, metadata changes
and stream batches (generated data)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import orjson
import polars as pl
import pytest
from dagster import DagsterInstance
from polars.testing import assert_frame_equal

from paisa_assets.generator import generate_landing_zone
from paisa_assets.generator.stream import generated_payloads
from paisa_assets.gold_build import GOLD_INPUTS
from paisa_assets.gold_update import EMPTY_SCHEMAS
from paisa_assets.resources.local_event_log import LocalEventLog
from paisa_assets.runner import sync_partitions
from paisa_assets.tables import (
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_PRODUCT_SUMMARY,
    GOLD_REVIEWS_ENRICHED,
    asset_key,
)
from paisa_assets.transforms import gold as sql
from paisa_assets.transforms.gold_incremental import GoldFacts, plan_gold_update
from paisa_assets_tests.conftest import Workspace, make_workspace, materialize_all

# ---- the planner ------------------------------------------------------------------------

VERSIONS = {"silver.amazon_reviews": 7, "silver.amazon_metadata": 3}


def facts(**overrides: object) -> GoldFacts:
    values: dict = {
        "table_exists": True,
        "recorded": {"silver.amazon_reviews": 5, "silver.amazon_metadata": 3},
        "current": VERSIONS,
        "schema_matches": True,
        "inputs_readable": True,
        "changed_rows": 56_000,
        "input_rows": 5_000_000,
    }
    values.update(overrides)
    return GoldFacts(**values)


def test_a_folder_on_a_large_table_is_an_update() -> None:
    assert plan_gold_update(facts()).mode == "update"


@pytest.mark.parametrize(
    ("overrides", "mode", "reason"),
    [
        ({"recorded": VERSIONS}, "up_to_date", "inputs unchanged"),
        ({"table_exists": False}, "rebuild", "first build"),
        ({"schema_matches": False}, "rebuild", "schema"),
        ({"rebuild_requested": True}, "rebuild", "requested"),
        ({"rebuild_requested": True, "recorded": VERSIONS}, "rebuild", "requested"),
        ({"recorded": None}, "rebuild", "recorded no input versions"),
        ({"recorded": {"silver.amazon_reviews": 5}}, "rebuild", "inputs differ"),
        (
            {"recorded": {"silver.amazon_reviews": None, "silver.amazon_metadata": 3}},
            "rebuild",
            "appeared",
        ),
        (
            {"recorded": {"silver.amazon_reviews": 9, "silver.amazon_metadata": 3}},
            "rebuild",
            "back in time",
        ),
        ({"inputs_readable": False}, "rebuild", "vacuumed"),
        ({"local": False}, "rebuild", "local lakes only"),
        ({"changed_rows": 1_250_001}, "rebuild", "more than 25%"),
        ({"input_rows": 999, "changed_rows": 1}, "rebuild", "small inputs"),
    ],
)
def test_the_planner_rebuilds_whenever_an_update_could_be_wrong_or_costly(
    overrides: dict, mode: str, reason: str
) -> None:
    plan = plan_gold_update(facts(**overrides))
    assert plan.mode == mode
    assert reason in plan.reason


def test_a_quarter_of_the_table_changed_is_still_an_update() -> None:
    assert plan_gold_update(facts(changed_rows=1_250_000)).mode == "update"


# ---- incremental equals full ------------------------------------------------------------

KEYS = {
    GOLD_REVIEWS_ENRICHED: ["review_id"],
    GOLD_PRODUCT_SUMMARY: ["asin"],
    GOLD_CATEGORY_MONTHLY: ["main_cat", "year", "month"],
    GOLD_KPIS: ["reviews"],
}
# Sums of prices (not whole numbers) are updated, not re-added: equal to a rebuild's to 1e-12.
APPROXIMATE = {GOLD_CATEGORY_MONTHLY: ["avg_price"]}


def full_rebuild(workspace: Workspace) -> dict[str, pl.DataFrame]:
    """Every gold table as a full rebuild from the current silver would write it."""
    with workspace.warehouse.session(workspace.lakehouse, GOLD_INPUTS, EMPTY_SCHEMAS) as con:
        enriched = sql.reviews_enriched(con).read_all()
        con.register("reviews_enriched", enriched)
        tables = {
            GOLD_PRODUCT_SUMMARY: sql.product_summary(con).read_all(),
            GOLD_CATEGORY_MONTHLY: sql.category_monthly(con).read_all(),
            GOLD_KPIS: sql.kpis(con).read_all(),
        }
    frames = {GOLD_REVIEWS_ENRICHED: pl.from_arrow(enriched)}
    frames |= {table: pl.from_arrow(rows) for table, rows in tables.items()}
    # DuckDB names UTC "Etc/UTC"; Delta reads it back as "UTC": the same instants.
    return {
        table: frame.with_columns(
            pl.col(pl.Datetime(time_zone="Etc/UTC")).dt.convert_time_zone("UTC")
        )  # type: ignore[union-attr]
        for table, frame in frames.items()
    }


def assert_gold_equals_a_full_rebuild(workspace: Workspace) -> None:
    expected = full_rebuild(workspace)
    for table, rebuilt in expected.items():
        actual = workspace.lakehouse.read(table)
        assert actual.columns == rebuilt.columns, table
        keys = KEYS[table]
        actual = actual.sort(keys, nulls_last=True)
        rebuilt = rebuilt.sort(keys, nulls_last=True)
        assert actual.height == rebuilt.height, table
        assert actual[keys].n_unique() == actual.height, f"{table}: duplicate keys"
        approximate = APPROXIMATE.get(table, [])
        assert_frame_equal(
            actual.drop(approximate), rebuilt.drop(approximate), check_exact=True, check_dtypes=True
        )
        if approximate:
            assert_frame_equal(actual[approximate], rebuilt[approximate], rel_tol=1e-12)


def gold_builds(instance: DagsterInstance) -> dict[str, str]:
    """How each gold table was last built: update, rebuild (or None when up to date)."""
    builds = {}
    for table in KEYS:
        event = instance.get_latest_materialization_event(asset_key(table))
        assert event is not None and event.asset_materialization is not None
        build = event.asset_materialization.metadata.get("build")
        builds[table] = build.value if build is not None else None
    return builds


def run_gold(workspace: Workspace, instance: DagsterInstance) -> dict[str, str]:
    job = workspace.defs.resolve_job_def("gold_job")
    assert job.execute_in_process(instance=instance).success
    return gold_builds(instance)


def ingest(workspace: Workspace, instance: DagsterInstance, job: str, partition: str) -> None:
    sync_partitions(instance, workspace.landing)
    result = workspace.defs.resolve_job_def(job).execute_in_process(
        instance=instance, partition_key=partition
    )
    assert result.success


def stream_batch(workspace: Workspace, instance: DagsterInstance, payloads: list[bytes]) -> None:
    LocalEventLog(root=str(workspace.root / "events")).publish(payloads)
    config = {"ops": {"bronze__eh_streaming": {"config": {"ranges": []}}}}
    job = workspace.defs.resolve_job_def("streaming_job")
    assert job.execute_in_process(instance=instance, run_config=config).success


def rewrite_landing_file(path: Path, change) -> None:
    """Re-deliver a landing file with its records passed through `change` (None drops one)."""
    lines = gzip.decompress(path.read_bytes()).splitlines()
    records = []
    for line in lines:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        changed = change(record)
        if changed is not None:
            records.append(orjson.dumps(changed))
    path.write_bytes(gzip.compress(b"\n".join(records) + b"\n", mtime=0))


def test_incrementally_updated_gold_equals_a_full_rebuild(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    report = generate_landing_zone(
        workspace.landing_root,
        reviews=8_000,
        review_partitions=8,
        metadata_partitions=2,
        seed=19,
        progress=False,
    )
    reviews_root = workspace.landing_root / "amazon_reviews"
    held = tmp_path / "held_back"
    shutil.move(reviews_root / "partition_7", held)
    with DagsterInstance.ephemeral() as instance:
        sync_partitions(instance, workspace.landing)
        materialize_all(instance, workspace)
        assert set(gold_builds(instance).values()) == {"rebuild"}
        assert_gold_equals_a_full_rebuild(workspace)
        # gold's integer key is review_id's image, batch and stream rows alike
        gold = workspace.lakehouse.read(GOLD_REVIEWS_ENRICHED)
        assert gold["_review_key"].to_list() == [int(i, 16) - 2**63 for i in gold["review_id"]]
        updated = {table: "update" for table in KEYS}

        # A stream batch: 100 new events.
        stream_batch(workspace, instance, generated_payloads(100, seed=23))
        assert run_gold(workspace, instance) == updated
        assert_gold_equals_a_full_rebuild(workspace)

        # A new landing folder.
        shutil.move(held, reviews_root / "partition_7")
        ingest(workspace, instance, "reviews_ingest_job", "partition_7")
        assert run_gold(workspace, instance) == updated
        assert_gold_equals_a_full_rebuild(workspace)

        # A changed file: ratings changed, some reviews withdrawn (their keys leave silver and
        # gold), a stream review's key now also in the batch files (the batch copy wins).
        stream_review = orjson.loads(generated_payloads(1, seed=23)[0])
        folder = reviews_root / "partition_1"
        target = sorted(folder.glob("*.json.gz"))[0]
        seen = {"n": 0}

        def change(record: dict) -> dict | None:
            seen["n"] += 1
            if seen["n"] % 7 == 0:
                return None  # withdrawn
            if seen["n"] % 5 == 0:
                record["overall"] = 1.0 if record.get("overall") != 1.0 else 5.0
            if seen["n"] == 3:
                record["asin"] = stream_review["asin"]
                record["reviewerID"] = stream_review["reviewerID"]
            return record

        rewrite_landing_file(target, change)
        before = workspace.lakehouse.count(GOLD_REVIEWS_ENRICHED)
        ingest(workspace, instance, "reviews_ingest_job", "partition_1")
        # Silver's MERGE rewrote partition_1 only: gold is updated, not rebuilt.
        assert run_gold(workspace, instance)[GOLD_REVIEWS_ENRICHED] == "update"
        assert_gold_equals_a_full_rebuild(workspace)
        assert workspace.lakehouse.count(GOLD_REVIEWS_ENRICHED) < before  # withdrawn keys left
        gold = workspace.lakehouse.read(GOLD_REVIEWS_ENRICHED)
        copies = gold.filter(
            (pl.col("asin") == stream_review["asin"])
            & (pl.col("reviewer_id") == stream_review["reviewerID"])
        )
        assert copies["source"].to_list() == ["batch"]

        # Metadata: a product's price and category change, which moves category mean prices
        # and so the imputed price of other products' reviews.
        products = workspace.lakehouse.read("silver.amazon_metadata").sort("asin")
        priced = products.filter(pl.col("price").is_not_null() & pl.col("main_cat").is_not_null())
        asin = priced["asin"][0]
        workspace.write_landing_file(
            "amazon_metadata/partition_9/part-0.json.gz",
            [{"asin": asin, "title": "Renamed", "main_cat": "Books", "price": "$12,345.00"}],
        )
        ingest(workspace, instance, "metadata_ingest_job", "partition_9")
        # Updates of rows spread over every file of gold.reviews_enriched rewrite them all: its
        # aggregates then see everything changed and are rebuilt (the planner's choice).
        assert run_gold(workspace, instance)[GOLD_REVIEWS_ENRICHED] == "update"
        assert_gold_equals_a_full_rebuild(workspace)

        # Another stream batch, with a review sent twice and one already in the batch files.
        # One without a stream copy yet (not the one the changed file gave a stream review's
        # key), picked in a fixed order: the stream copy must be new to silver.
        batch_review = (
            gold.filter(
                (pl.col("source") == "batch")
                & (pl.col("reviewer_id") != stream_review["reviewerID"])
            )
            .sort("review_id")
            .row(0, named=True)
        )
        again = orjson.loads(generated_payloads(1, seed=29)[0])
        again.update(asin=batch_review["asin"], reviewerID=batch_review["reviewer_id"])
        payloads = [*generated_payloads(60, seed=31), orjson.dumps(again), orjson.dumps(again)]
        stream_batch(workspace, instance, payloads)
        assert run_gold(workspace, instance) == updated
        assert_gold_equals_a_full_rebuild(workspace)

        # A stream batch with gold's tables built one at a time, product_summary before the
        # KPIs: the KPIs then count products from a product_summary already updated.
        stream_batch(workspace, instance, generated_payloads(40, seed=37))
        job = workspace.defs.resolve_job_def("gold_job")
        for table in (GOLD_REVIEWS_ENRICHED, GOLD_PRODUCT_SUMMARY, GOLD_KPIS):
            assert job.execute_in_process(
                instance=instance, asset_selection=[asset_key(table)]
            ).success
            assert gold_builds(instance)[table] == "update"
        assert run_gold(workspace, instance)[GOLD_CATEGORY_MONTHLY] == "update"
        assert_gold_equals_a_full_rebuild(workspace)

        # Nothing new: gold is up to date and writes nothing.
        versions = workspace.versions(list(KEYS))
        run_gold(workspace, instance)
        assert workspace.versions(list(KEYS)) == versions

        # The periodic reconciliation: a full rebuild when asked, equal again.
        job = workspace.defs.resolve_job_def("gold_job")
        assert job.execute_in_process(
            instance=instance, tags={"paisa/gold_rebuild": "full"}
        ).success
        assert set(gold_builds(instance).values()) == {"rebuild"}
        assert_gold_equals_a_full_rebuild(workspace)
    assert report.reviews.unique_keys > 0
