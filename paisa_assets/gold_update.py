"""Incremental gold: update what changed in silver since the versions gold recorded.

Every gold build records the Delta versions of its inputs in its commit. What changed since is
read from the Delta log: the files the inputs' current versions hold and the recorded versions
did not (added) and the reverse (removed). Their rows, compared column by column, give the
changed keys; a file a MERGE rewrote cancels out except for the rows it really changed. Nothing
else of the lake is read, except where a change reaches beyond its rows (a product's metadata,
a category's mean price, a reviewer's or product's first or last review), so a new landing
folder or a stream batch costs the same on any lake size.

`transforms.gold_incremental.plan_gold_update` decides between this and a full rebuild; the SQL
lives there too. This module does the reading and the writing (no Dagster).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from paisa_assets.delta_changes import FileDiff, file_diff, removed_rows_sql, row_count
from paisa_assets.delta_duckdb import parquet_view, register_version
from paisa_assets.resources.lakehouse import Lakehouse, last_data_commit
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.sql_quoting import in_list
from paisa_assets.tables import (
    GOLD_CATEGORY_MONTHLY,
    GOLD_KPIS,
    GOLD_PRODUCT_SUMMARY,
    GOLD_REVIEWS_ENRICHED,
    SILVER_METADATA,
    SILVER_REVIEWS,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets.transforms import gold as gold_sql
from paisa_assets.transforms.gold_incremental import (
    CATEGORY_MONTHLY_UPDATE_SQL,
    ENRICHED_DELTA_COLUMNS,
    ENRICHED_DELTA_SQL,
    KPIS_UPDATE_SQL,
    MAX_CHANGED_SHARE,
    MAX_DELETED_ROWS,
    PRODUCT_SUMMARY_UPDATE_SQL,
    AggregateSpec,
    GoldFacts,
    GoldPlan,
    changed_keys_sql,
    null_safe_match,
    plan_gold_update,
)
from paisa_assets.transforms.review_key import REVIEW_KEY, review_keys
from paisa_assets.transforms.schemas import SILVER_METADATA_SCHEMA, SILVER_REVIEWS_SCHEMA
from paisa_assets.transforms.stream_reviews import SILVER_STREAM_SCHEMA

# Where a gold build's commit records the input versions it was built from.
INPUTS_KEY = "paisa_inputs"
# A run with this tag rebuilds gold in full instead of updating it (the periodic reconciliation).
REBUILD_TAG = "paisa/gold_rebuild"

# Silver columns gold.reviews_enriched reads: a change elsewhere (lineage columns such as
# `_partition` after a promotion) does not touch gold.
REVIEW_COLUMNS = [
    "review_id",
    "asin",
    "reviewerID",
    "reviewerName",
    "overall",
    "summary",
    "reviewText",
    "review_date",
    "verified",
    "vote",
    "style",
    "image",
    "_ingested_at",
]
METADATA_COLUMNS = [
    "asin",
    "title",
    "brand",
    "main_cat",
    "category",
    "price",
    "rank",
    "rank_category",
]
EMPTY_DIFF = FileDiff("", [], [], 0, 0, True)
# Where gold holds the rows an update MERGEs when every one is a batch review new to silver
# (silver only appended files) or a stream review without a batch copy: a gold row for such a
# key, if any, is its stream copy. The MERGE's plan then reads only those rows of gold (its
# row groups of batch rows are skipped by their statistics), not every key of the table.
STREAM_ROWS_ONLY = "source = 'stream'"
# Stream reviews looked up in batch silver by a literal IN list (DuckDB then reads the other
# columns only for matching rows); a larger set is joined instead.
MAX_LITERAL_KEYS = 5_000

# The relations the gold queries read, and the schema each reads as before its table exists.
GOLD_SOURCES = {
    "silver_reviews": SILVER_REVIEWS,
    "silver_metadata": SILVER_METADATA,
    "silver_reviews_streaming": SILVER_REVIEWS_STREAMING,
}
EMPTY_SCHEMAS = {
    SILVER_REVIEWS: SILVER_REVIEWS_SCHEMA,
    SILVER_METADATA: SILVER_METADATA_SCHEMA,
    SILVER_REVIEWS_STREAMING: SILVER_STREAM_SCHEMA,
}

AGGREGATES = {
    GOLD_PRODUCT_SUMMARY: AggregateSpec(
        ("asin",), PRODUCT_SUMMARY_UPDATE_SQL, gold_sql.PRODUCT_SUMMARY_SQL
    ),
    GOLD_CATEGORY_MONTHLY: AggregateSpec(
        ("main_cat", "year", "month"), CATEGORY_MONTHLY_UPDATE_SQL, gold_sql.CATEGORY_MONTHLY_SQL
    ),
    GOLD_KPIS: AggregateSpec((), KPIS_UPDATE_SQL, gold_sql.KPIS_SQL),
}


def _facts(
    lakehouse: Lakehouse,
    table: str,
    recorded: Mapping[str, int | None] | None,
    current: Mapping[str, int | None],
    diffs: list[FileDiff],
    expected_columns: list[str] | None,
    rebuild_requested: bool,
) -> GoldFacts:
    dt = lakehouse.delta_table(table)
    columns = [f.name for f in dt.schema().fields] if dt is not None else []
    rows = sum(row_count(lakehouse, source) for source in current)
    return GoldFacts(
        table_exists=dt is not None,
        recorded=recorded,
        current=current,
        schema_matches=expected_columns is None or columns == expected_columns,
        inputs_readable=all(d.readable for d in diffs),
        changed_rows=sum(d.changed_rows for d in diffs),
        input_rows=rows,
        rebuild_requested=rebuild_requested,
        local=lakehouse.is_local(),
    )


def plan_for(
    lakehouse: Lakehouse,
    table: str,
    recorded: Mapping[str, int | None] | None,
    current: Mapping[str, int | None],
    expected_columns: list[str] | None,
    rebuild_requested: bool = False,
) -> tuple[GoldPlan, list[FileDiff]]:
    """The plan for `table`, and the input diffs an update would read."""
    diffs: list[FileDiff] = []
    comparable = (
        recorded is not None
        and set(recorded) == set(current)
        and lakehouse.exists(table)
        and lakehouse.is_local()
    )
    if comparable:
        assert recorded is not None
        diffs = [file_diff(lakehouse, t, recorded[t]) for t in current if recorded[t] is not None]
    facts = _facts(lakehouse, table, recorded, current, diffs, expected_columns, rebuild_requested)
    return plan_gold_update(facts), diffs


def expected_columns(warehouse: Warehouse, table: str) -> list[str]:
    """The columns the current code writes to `table`: its query's result on empty inputs."""
    with warehouse.engine() as con:
        for name, source in GOLD_SOURCES.items():
            con.register(name, pl.DataFrame(schema=EMPTY_SCHEMAS[source]).to_arrow())
        if table == GOLD_REVIEWS_ENRICHED:
            return list(gold_sql.reviews_enriched(con).schema.names)
        con.execute(
            f"CREATE TEMP TABLE reviews_enriched AS {gold_sql.REVIEWS_ENRICHED_SQL} LIMIT 0"
        )
        return list(con.sql(AGGREGATES[table].rebuild_sql).columns)


def _ids(con: duckdb.DuckDBPyConnection, name: str, values: list[str]) -> None:
    """A one-column temp table `name` (`id`) of these values."""
    con.register(f"__{name}", pa.table({"id": pa.array(values, pa.string())}))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT DISTINCT id FROM __{name}")
    con.unregister(f"__{name}")


def _view(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {sql}')


def _table_view(
    con: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse,
    table: str,
    columns: list[str],
    files: list[str] | None = None,
) -> str:
    """SQL reading these columns of (some files of) `table`'s current version; no rows, typed,
    when the table does not exist or no file is given."""
    dt = lakehouse.delta_table(table)
    view = parquet_view(dt, columns, files=files) if dt is not None else None
    if view is not None:
        return view
    if dt is not None:
        schema = pa.schema(dt.schema().to_arrow())  # type: ignore[arg-type]
    else:
        schema = pl.DataFrame(schema=EMPTY_SCHEMAS[table]).to_arrow().schema
    name = "__empty_" + table.replace(".", "_")
    con.register(name, schema.empty_table())
    return f"SELECT {_cols(columns)} FROM {name}"


# ---- gold.reviews_enriched ----------------------------------------------------------------


def _mean_price_changes(
    con: duckdb.DuckDBPyConnection, lakehouse: Lakehouse, since: int
) -> tuple[list[str], bool]:
    """Main categories (and whether reviews with no category) whose imputed price changed.

    A review without a listed price gets its category's mean price, else the global mean (see
    `transforms.gold`), both over every product: a metadata change can move the price of other
    products' reviews. Compared between the recorded and the current version of the metadata
    (three columns of a table a tenth the size of the reviews).
    """
    then = DeltaTable(lakehouse.uri(SILVER_METADATA), version=since)
    _view(con, "meta_then", parquet_view(then, ["main_cat", "price"]) or _no_meta())
    _view(con, "meta_now", _table_view(con, lakehouse, SILVER_METADATA, ["main_cat", "price"]))
    means = """
        WITH cat AS (SELECT main_cat, {mean} AS m FROM {t}
                     WHERE price IS NOT NULL AND main_cat IS NOT NULL GROUP BY main_cat),
             g AS (SELECT {mean} AS m FROM {t} WHERE price IS NOT NULL),
             cats AS (SELECT DISTINCT main_cat FROM {t} WHERE main_cat IS NOT NULL)
        SELECT cats.main_cat, coalesce(cat.m, g.m) AS effective
        FROM cats LEFT JOIN cat USING (main_cat) CROSS JOIN g
        UNION ALL SELECT NULL, m FROM g
    """
    then_sql = means.format(t="meta_then", mean=gold_sql.MEAN_PRICE)
    now_sql = means.format(t="meta_now", mean=gold_sql.MEAN_PRICE)
    rows = con.execute(
        f"SELECT coalesce(a.main_cat, b.main_cat) FROM ({then_sql}) AS a "
        f"FULL JOIN ({now_sql}) AS b "
        "ON a.main_cat IS NOT DISTINCT FROM b.main_cat "
        "WHERE a.effective IS DISTINCT FROM b.effective"
    ).fetchall()
    return [r[0] for r in rows if r[0] is not None], any(r[0] is None for r in rows)


def _no_meta() -> str:
    return "SELECT CAST(NULL AS VARCHAR) AS main_cat, CAST(NULL AS DOUBLE) AS price WHERE false"


def _changed(
    con: duckdb.DuckDBPyConnection, lakehouse: Lakehouse, diff: FileDiff, key: str, cols: list[str]
) -> list[str]:
    if diff.empty:
        return []
    _view(con, "added", _table_view(con, lakehouse, diff.table, cols, diff.added))
    _view(con, "removed", _removed_view(diff, cols))
    return [r[0] for r in con.execute(changed_keys_sql(key, cols)).fetchall() if r[0] is not None]


def _removed_view(diff: FileDiff, columns: list[str], like: str = "added") -> str:
    """The rows of the files an older version held; none, with the columns of relation
    `like`, when no file was removed."""
    return removed_rows_sql(diff, columns) or f"SELECT * FROM {like} WHERE false"


def affected_reviews(
    con: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse,
    recorded: Mapping[str, int | None],
    diffs: Mapping[str, FileDiff],
    report: dict[str, Any],
) -> list[str]:
    """Fill temp table `affected_ids` (review_id): the reviews whose enriched row may change.

    Returns the changed batch reviews, whose current rows are all in the files silver added.
    """
    batch = _changed(
        con, lakehouse, diffs.get(SILVER_REVIEWS, EMPTY_DIFF), "review_id", REVIEW_COLUMNS
    )
    stream = _changed(
        con, lakehouse, diffs.get(SILVER_REVIEWS_STREAMING, EMPTY_DIFF), "review_id", REVIEW_COLUMNS
    )
    meta_diff = diffs.get(SILVER_METADATA, EMPTY_DIFF)
    asins = _changed(con, lakehouse, meta_diff, "asin", METADATA_COLUMNS)
    _ids(con, "affected", [*batch, *stream])
    categories: list[str] = []
    no_category = False
    since = recorded.get(SILVER_METADATA)
    if not meta_diff.empty and since is not None:
        categories, no_category = _mean_price_changes(con, lakehouse, since)
    if asins:  # every review of a product whose metadata changed
        _ids(con, "changed_asins", asins)
        for source in (SILVER_REVIEWS, SILVER_REVIEWS_STREAMING):
            view = _table_view(con, lakehouse, source, ["review_id", "asin"])
            con.execute(
                f"INSERT INTO affected SELECT review_id FROM ({view}) "
                "WHERE asin IN (SELECT id FROM changed_asins)"
            )
    if categories or no_category:  # reviews priced by a mean that moved
        matches = [in_list("main_cat", categories)] if categories else []
        if no_category:
            matches.append("main_cat IS NULL")
        view = _table_view(
            con, lakehouse, GOLD_REVIEWS_ENRICHED, ["review_id", "main_cat", "listed_price"]
        )
        con.execute(
            f"INSERT INTO affected SELECT review_id FROM ({view}) "
            f"WHERE listed_price IS NULL AND ({' OR '.join(matches)})"
        )
    con.execute("CREATE OR REPLACE TEMP TABLE affected_ids AS SELECT DISTINCT id FROM affected")
    report.update(
        changed_batch_reviews=len(batch),
        changed_stream_reviews=len(stream),
        changed_products=len(asins),
        categories_with_a_new_mean_price=len(categories) + int(no_category),
    )
    return batch


def _register_affected_inputs(
    con: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse,
    batch_diff: FileDiff | None,
    batch_changed: list[str],
    stream_only: bool,
) -> bool:
    """The relations `transforms.gold.reviews_enriched` reads, limited to the affected reviews
    (metadata whole: its means are over every product). True when every affected review is a
    changed batch review or a changed stream review without a batch copy: each one's enriched
    row then differs from gold's (see `_without_unchanged`).

    A changed batch review sits in a file its silver version added, so only those files are
    read for it; other affected reviews (stream reviews that may have a batch copy, reviews of
    changed products) are looked up in every batch file, by a literal list when short (DuckDB
    then reads the other columns only for the rows that match).
    """
    added = batch_diff.added if batch_diff is not None else []
    parts = []
    if added:
        view = _table_view(con, lakehouse, SILVER_REVIEWS, REVIEW_COLUMNS, added)
        parts.append(f"SELECT * FROM ({view}) WHERE review_id IN (SELECT id FROM affected_ids)")
    known = set(batch_changed)
    others = [r[0] for r in con.execute("SELECT id FROM affected_ids").fetchall()]
    others = [k for k in others if k not in known]
    dt = lakehouse.delta_table(SILVER_REVIEWS)
    rest = [f for f in dt.file_uris() if f not in set(added)] if dt is not None else []
    pruned = bool(others) and stream_only and len(others) <= MAX_LITERAL_KEYS
    if pruned and dt is not None:
        # Stream reviews only: one with a batch copy keeps its gold row (the batch copy wins,
        # and it did not change: changed batch reviews are `known`), so only whether it has one
        # is asked, by the key column alone (reading whole rows for a few keys decodes every
        # file). The rest then have no batch copy: their stream rows changed, the metadata did
        # not, so each one's enriched row differs from gold's.
        in_batch = _held_in(con, lakehouse, SILVER_REVIEWS, others)
        if in_batch:
            con.execute(f"DELETE FROM affected_ids WHERE {in_list('id', in_batch)}")
        others = []
    if others and rest:
        view = _table_view(con, lakehouse, SILVER_REVIEWS, REVIEW_COLUMNS, rest)
        if len(others) <= MAX_LITERAL_KEYS:
            parts.append(f"SELECT * FROM ({view}) WHERE {in_list('review_id', others)}")
        else:
            parts.append(f"SELECT * FROM ({view}) WHERE review_id IN (SELECT id FROM affected_ids)")
    if not parts:
        parts.append(
            f"SELECT * FROM ({_table_view(con, lakehouse, SILVER_REVIEWS, REVIEW_COLUMNS, [])})"
        )
    con.execute("CREATE OR REPLACE TEMP TABLE silver_reviews AS " + " UNION ALL ".join(parts))
    stream = _table_view(con, lakehouse, SILVER_REVIEWS_STREAMING, REVIEW_COLUMNS)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE silver_reviews_streaming AS SELECT * FROM ({stream}) "
        "WHERE review_id IN (SELECT id FROM affected_ids)"
    )
    _view(con, "silver_metadata", _table_view(con, lakehouse, SILVER_METADATA, METADATA_COLUMNS))
    return not others


def _held_in(
    con: duckdb.DuckDBPyConnection, lakehouse: Lakehouse, table: str, ids: list[str]
) -> list[str]:
    """Which of these review ids `table` holds, from one key column of every file:
    `_review_key`, the ids' integer image (`transforms.review_key`), where the table has it and
    every id has one (5M reviews: a few hundredths of a CPU-second, against about 0.2 for the
    strings of `review_id`)."""
    dt = lakehouse.delta_table(table)
    if dt is None:
        return []
    images = review_keys(pl.Series(ids, dtype=pl.String))
    if REVIEW_KEY not in {f.name for f in dt.schema().fields} or images.null_count():
        keys = _table_view(con, lakehouse, table, ["review_id"], dt.file_uris())
        query = f"SELECT DISTINCT review_id FROM ({keys}) WHERE {in_list('review_id', ids)}"
        return [r[0] for r in con.execute(query).fetchall()]
    by_image = dict(zip(images.to_list(), ids, strict=True))
    keys = _table_view(con, lakehouse, table, [REVIEW_KEY], dt.file_uris())
    listing = ", ".join(str(image) for image in by_image)
    query = f"SELECT DISTINCT {REVIEW_KEY} FROM ({keys}) WHERE {REVIEW_KEY} IN ({listing})"
    return [by_image[r[0]] for r in con.execute(query).fetchall()]


def update_reviews_enriched(
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    recorded: Mapping[str, int | None],
    diffs: list[FileDiff],
    commit: dict[str, Any],
    report: dict[str, Any],
) -> bool:
    """Recompute the enriched rows of the affected reviews and MERGE them into gold (deleting
    those no longer in silver). False: too much changed, rebuild instead."""
    by_table = {d.table: d for d in diffs}
    with warehouse.engine() as con:
        batch_changed = affected_reviews(con, lakehouse, recorded, by_table, report)
        (affected,) = con.execute("SELECT count(*) FROM affected_ids").fetchall()[0]
        report["affected_reviews"] = affected
        if affected > MAX_CHANGED_SHARE * max(row_count(lakehouse, GOLD_REVIEWS_ENRICHED), 1):
            return False
        rows = pa.table([], schema=pa.schema([]))
        gone: list[str] = []
        scope = None
        if affected:
            stream_only = not (
                report["changed_products"] or report["categories_with_a_new_mean_price"]
            )
            all_changed = _register_affected_inputs(
                con, lakehouse, by_table.get(SILVER_REVIEWS), batch_changed, stream_only
            )
            rows = gold_sql.reviews_enriched(con).read_all()
            con.register("rows_now", rows.select(["review_id"]))
            gone = [
                r[0]
                for r in con.execute(
                    "SELECT id FROM affected_ids ANTI JOIN rows_now ON rows_now.review_id = id"
                ).fetchall()
            ]
            if not all_changed:
                rows = _without_unchanged(con, lakehouse, rows, set(batch_changed))
            elif not by_table.get(SILVER_REVIEWS, EMPTY_DIFF).removed:
                scope = STREAM_ROWS_ONLY
    if len(gone) > MAX_DELETED_ROWS:
        return False
    counts = {"num_target_rows_inserted": 0, "num_target_rows_updated": 0}
    counts["num_target_rows_deleted"] = 0
    if rows.num_rows or gone:
        frame = pl.from_arrow(rows) if rows.num_rows else _empty_enriched(lakehouse)
        assert isinstance(frame, pl.DataFrame)
        counts = lakehouse.merge(
            GOLD_REVIEWS_ENRICHED,
            frame,
            keys=["review_id"],
            update_when="true",
            delete_unmatched_when=in_list("t.review_id", gone) if gone else None,
            metadata=commit,
            match_scope=scope,
            lookup_keys=[REVIEW_KEY],
        )
    report.update(
        inserted=counts.get("num_target_rows_inserted", 0),
        updated=counts.get("num_target_rows_updated", 0),
        deleted=counts.get("num_target_rows_deleted", 0),
    )
    return True


def _without_unchanged(
    con: duckdb.DuckDBPyConnection, lakehouse: Lakehouse, rows: pa.Table, batch_changed: set[str]
) -> pa.Table:
    """`rows` without those gold already holds as they are: a stream review whose batch copy
    wins, a product whose metadata change moved nothing. Updating them would rewrite their
    files for nothing (and make gold's aggregates see those files as changed). Batch reviews
    that changed are new or different by construction; the others, when few, are compared
    with gold's rows, found by a literal list (a scan of gold's key column, so skipped when
    every row is known to differ: a stream batch's reviews without a batch copy, since their
    silver rows changed and the metadata did not)."""
    others = [k for k in rows.column("review_id").to_pylist() if k not in batch_changed]
    if not others or len(others) > MAX_LITERAL_KEYS:
        return rows
    # held by gold: only those can be unchanged (whole rows are read for them only)
    others = _held_in(con, lakehouse, GOLD_REVIEWS_ENRICHED, others)
    if not others:
        return rows
    columns = rows.schema.names
    current = _table_view(con, lakehouse, GOLD_REVIEWS_ENRICHED, columns)
    con.register("recomputed", rows)
    unchanged = {
        r[0]
        for r in con.execute(
            f"SELECT review_id FROM (SELECT * FROM recomputed INTERSECT "
            f"SELECT * FROM ({current}) WHERE {in_list('review_id', others)})"
        ).fetchall()
    }
    con.unregister("recomputed")
    if not unchanged:
        return rows
    keep = pa.array([k not in unchanged for k in rows.column("review_id").to_pylist()])
    return rows.filter(keep)


def _empty_enriched(lakehouse: Lakehouse) -> pl.DataFrame:
    return lakehouse.read(GOLD_REVIEWS_ENRICHED, where=pl.lit(False))


# ---- the aggregates of gold.reviews_enriched ----------------------------------------------


def update_aggregate(
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    table: str,
    diff: FileDiff,
    since: int | None,
    commit: dict[str, Any],
    report: dict[str, Any],
) -> bool:
    """Fold the changed enriched rows into the aggregate's affected groups and replace the
    table (small: a row per product, per category-month, or one). False: rebuild instead."""
    spec = AGGREGATES[table]
    base = lakehouse.delta_table(table)
    assert base is not None
    columns = [f.name for f in base.schema().fields]
    with warehouse.engine() as con:
        _view(
            con,
            "added",
            _table_view(con, lakehouse, diff.table, ENRICHED_DELTA_COLUMNS, diff.added),
        )
        _view(con, "removed", _removed_view(diff, ENRICHED_DELTA_COLUMNS))
        con.execute(f"CREATE TEMP TABLE delta AS {ENRICHED_DELTA_SQL}")
        (changes,) = con.execute("SELECT count(*) FROM delta").fetchall()[0]
        report["changed_reviews"] = changes
        if not changes:
            return True  # the caller records the new input versions
        register_version(con, "old", base, local=True)
        if table == GOLD_KPIS:
            _presence(con, lakehouse, diff, since, commit[INPUTS_KEY][GOLD_REVIEWS_ENRICHED])
        con.execute(f"CREATE TEMP TABLE updated AS {spec.update_sql}")
        dirty = con.execute(
            f"SELECT {_cols(spec.group) or '1'} FROM updated WHERE dirty AND reviews > 0"
        ).fetchall()
        report["groups_updated"] = con.execute("SELECT count(*) FROM updated").fetchall()[0][0]
        report["groups_recomputed"] = len(dirty)
        # Sums come out of DuckDB as HUGEINT: written with the table's own types.
        old = con.sql("SELECT * FROM old")
        types = dict(zip(old.columns, old.types, strict=True))
        typed = ", ".join(f'CAST("{c}" AS {types[c]}) AS "{c}"' for c in columns)
        if dirty and not spec.group:
            return False  # the KPIs lost their first or last review: rebuild them
        parts = [
            f"SELECT {_cols(columns)} FROM old AS o WHERE NOT EXISTS (SELECT 1 FROM updated AS u "
            f"WHERE {null_safe_match('o', 'u', spec.group)})"
            if spec.group
            else None,
            f"SELECT {typed} FROM updated WHERE NOT dirty"
            + (" AND reviews > 0" if spec.group else ""),
        ]
        if dirty:
            (key,) = spec.group  # only product_summary has dates per group
            view = _table_view(con, lakehouse, GOLD_REVIEWS_ENRICHED, _enriched_columns(lakehouse))
            keys = [row[0] for row in dirty]
            _ids(con, "dirty_keys", keys)
            _view(
                con,
                "reviews_enriched",
                f"SELECT * FROM ({view}) WHERE {key} IN (SELECT id FROM dirty_keys)",
            )
            parts.append(f"SELECT {typed} FROM ({spec.rebuild_sql})")
        query = " UNION ALL ".join(p for p in parts if p is not None)
        lakehouse.replace(
            table,
            con.sql(query).to_arrow_reader(gold_sql.BATCH_ROWS),
            metadata=commit,
            read_version=base,
        )
    return True


def _cols(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _enriched_columns(lakehouse: Lakehouse) -> list[str]:
    dt = lakehouse.delta_table(GOLD_REVIEWS_ENRICHED)
    assert dt is not None
    return [f.name for f in dt.schema().fields]


def _presence(
    con: duckdb.DuckDBPyConnection,
    lakehouse: Lakehouse,
    diff: FileDiff,
    since: int | None,
    until: int,
) -> None:
    """Temp table `presence` (kind, id, before, after): for every reviewer and product of the
    changed rows, whether gold held a review of it before the change (version `since` of
    gold.reviews_enriched) and holds one after (`until`).

    Products: `gold.product_summary` counts every product's reviews; built from either of the
    two versions, it gives both sides with the changed rows' signed counts (a table a tenth
    the size of gold's key columns). Otherwise, and for reviewers, gold before = the files
    both versions share + the removed files, after = shared + added: the shared files matter
    only for keys in the added rows or the removed rows but not both (`open`), and each
    kind's key column of the shared files is read once, semi-joined with its open keys.
    """
    parts = []
    products = _presence_from_product_summary(con, lakehouse, since, until)
    if products is not None:
        parts.append(products)
    dt = lakehouse.delta_table(GOLD_REVIEWS_ENRICHED)
    assert dt is not None
    added = set(diff.added)
    shared = [f for f in dt.file_uris() if f not in added]
    kinds = (("reviewer", "reviewer_id"), ("product", "asin"))
    for kind, column in kinds if products is None else kinds[:1]:
        _view(
            con,
            f"added_{kind}",
            _table_view(con, lakehouse, GOLD_REVIEWS_ENRICHED, [column], diff.added),
        )
        _view(con, f"removed_{kind}", _removed_view(diff, [column], like=f"added_{kind}"))
        touched = f"(SELECT DISTINCT {column} AS id FROM delta WHERE {column} IS NOT NULL)"
        con.execute(
            f"CREATE TEMP TABLE {kind}_sides AS SELECT t.id, "
            f"t.id IN (SELECT {column} FROM added_{kind}) AS in_added, "
            f"t.id IN (SELECT {column} FROM removed_{kind}) AS in_removed FROM {touched} AS t"
        )
        con.execute(
            f"CREATE TEMP TABLE {kind}_open AS SELECT id FROM {kind}_sides "
            "WHERE in_added <> in_removed"
        )
        found = f"{kind}_in_shared"
        (opened,) = con.execute(f"SELECT count(*) FROM {kind}_open").fetchall()[0]
        if shared and opened:
            rest = _table_view(con, lakehouse, GOLD_REVIEWS_ENRICHED, [column], shared)
            con.execute(
                f"CREATE TEMP TABLE {found} AS SELECT DISTINCT {column} AS id FROM ({rest}) "
                f"WHERE {column} IN (SELECT id FROM {kind}_open)"
            )
        else:
            con.execute(f"CREATE TEMP TABLE {found} AS SELECT id FROM {kind}_open WHERE false")
        parts.append(
            f"SELECT '{kind}' AS kind, s.id, s.in_removed OR f.id IS NOT NULL AS before, "
            f"s.in_added OR f.id IS NOT NULL AS after "
            f"FROM {kind}_sides AS s LEFT JOIN {found} AS f ON f.id = s.id"
        )
    con.execute(f"CREATE TEMP TABLE presence AS {' UNION ALL '.join(parts)}")


def _presence_from_product_summary(
    con: duckdb.DuckDBPyConnection, lakehouse: Lakehouse, since: int | None, until: int
) -> str | None:
    """SQL of the products' presence rows (see `_presence`) from gold.product_summary, when
    its last build recorded either version of gold.reviews_enriched; else None."""
    summary = lakehouse.delta_table(GOLD_PRODUCT_SUMMARY)
    if summary is None:
        return None
    built = last_data_commit(summary).get(INPUTS_KEY) or {}
    version = built.get(GOLD_REVIEWS_ENRICHED) if isinstance(built, dict) else None
    if version is None or version not in (since, until):
        return None
    view = parquet_view(summary, ["asin", "reviews"]) or "SELECT NULL AS asin, 0 AS reviews"
    con.execute(
        "CREATE TEMP TABLE product_change AS SELECT asin AS id, sum(sign) AS n FROM delta "
        "WHERE asin IS NOT NULL GROUP BY asin"
    )
    con.execute(
        f"CREATE TEMP TABLE product_counts AS SELECT asin, reviews FROM ({view}) "
        "WHERE asin IN (SELECT id FROM product_change)"
    )
    counted = "coalesce(p.reviews, 0)"
    before, after = (
        (f"{counted} > 0", f"{counted} + c.n > 0")
        if version == since
        else (f"{counted} - c.n > 0", f"{counted} > 0")
    )
    return (
        f"SELECT 'product' AS kind, c.id, {before} AS before, {after} AS after "
        "FROM product_change AS c LEFT JOIN product_counts AS p ON p.asin = c.id"
    )


# ---- one entry point per gold table -------------------------------------------------------


def update_gold_table(
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    table: str,
    recorded: Mapping[str, int | None],
    diffs: list[FileDiff],
    commit: dict[str, Any],
) -> dict[str, Any] | None:
    """Update `table` in place for the changes `diffs` describe; None when a full rebuild is
    needed after all (more changed than the plan could see from file statistics).

    The commit records the new input versions even when no row changed (an empty commit), so
    the gold sensor sees gold up to date.
    """
    report: dict[str, Any] = {}
    before = lakehouse.version(table)
    if table == GOLD_REVIEWS_ENRICHED:
        done = update_reviews_enriched(lakehouse, warehouse, recorded, diffs, commit, report)
    else:
        (diff,) = diffs
        since = recorded.get(GOLD_REVIEWS_ENRICHED)
        done = update_aggregate(lakehouse, warehouse, table, diff, since, commit, report)
    if not done:
        return None
    if lakehouse.version(table) == before:
        lakehouse.record(table, commit)
    return report
