"""Incremental gold: the plan (rebuild, update or nothing) and the SQL that updates what changed.

Pure: no Dagster, no I/O. `paisa_assets.gold_update` finds what changed in the inputs (the Delta
files added and removed since the versions gold recorded) and registers these relations.

Why the aggregates can be updated exactly: every mean in gold is stored beside its denominator
(`reviews`, `verified_known_reviews`, `priced_reviews`), and ratings and verified flags are
whole numbers, so a mean times its count, rounded, is the exact integer sum the full rebuild
averaged (exact while a sum stays below 2**52). The new mean is then that sum plus the change,
divided by the new count: the same double DuckDB's `avg` gives. `avg_price` sums prices, which
are not whole, so its incremental value may differ from a rebuild's in the last bits (as two
rebuilds that add in another order may); the periodic full rebuild resets it.
Minimum and maximum dates cannot be taken back when their row is removed: a group that loses
the row holding its first or last date is recomputed from its rows (`dirty`), which is rare
(a withdrawn or replaced review), so it costs a filtered scan only then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# Beyond this share of the table's rows changed, a full rebuild is cheaper than an update (an
# update rewrites every file a changed row sits in, and reviews are spread by hash).
MAX_CHANGED_SHARE = 0.25
# Inputs this small are rebuilt from: a rebuild costs less than planning an update.
MIN_ROWS_FOR_UPDATE = 1_000
# Deleting rows names them in the MERGE's predicate: beyond this many, rebuild instead.
MAX_DELETED_ROWS = 20_000

Mode = Literal["up_to_date", "update", "rebuild"]


@dataclass(frozen=True)
class GoldFacts:
    """What the planner needs to know about one gold table and its inputs (all cheap to read:
    versions, commit metadata and file statistics from the Delta log)."""

    table_exists: bool
    recorded: Mapping[str, int | None] | None  # input versions the last build recorded
    current: Mapping[str, int | None]  # input versions now
    schema_matches: bool  # the table has the columns the current code writes
    inputs_readable: bool  # every file of the recorded versions is still on disk (not vacuumed)
    changed_rows: int  # rows in input files added or removed since the recorded versions
    input_rows: int  # rows of the inputs now (what a rebuild reads)
    rebuild_requested: bool = False  # the periodic reconciliation, or a run asking for it
    local: bool = True  # the update reads Parquet files directly (a local lake)


@dataclass(frozen=True)
class GoldPlan:
    mode: Mode
    reason: str


def plan_gold_update(
    facts: GoldFacts,
    *,
    max_changed_share: float = MAX_CHANGED_SHARE,
    min_rows: int = MIN_ROWS_FOR_UPDATE,
) -> GoldPlan:
    """Rebuild, update in place, or leave the table as it is.

    A rebuild is always correct, so it is the answer whenever an update could be wrong or
    costly: no table yet, another schema, inputs whose recorded versions can no longer be read,
    an input that did not exist at the last build, or too much changed.
    """
    if not facts.table_exists:
        return GoldPlan("rebuild", "first build")
    if facts.rebuild_requested:
        return GoldPlan("rebuild", "full rebuild requested (periodic reconciliation)")
    if facts.recorded is not None and dict(facts.recorded) == dict(facts.current):
        return GoldPlan("up_to_date", f"inputs unchanged since the last build ({facts.current})")
    if not facts.schema_matches:
        return GoldPlan("rebuild", "the table's schema differs from the one this code writes")
    if facts.recorded is None:
        return GoldPlan("rebuild", "the last build recorded no input versions")
    if set(facts.recorded) != set(facts.current):
        return GoldPlan("rebuild", "the inputs differ from the last build's")
    if any(
        facts.recorded[table] is None and facts.current[table] is not None
        for table in facts.current
    ):
        return GoldPlan("rebuild", "an input appeared since the last build")
    if any(
        facts.current[table] is None or facts.current[table] < facts.recorded[table]  # type: ignore[operator]
        for table in facts.current
        if facts.recorded[table] is not None
    ):
        return GoldPlan("rebuild", "an input was recreated or went back in time")
    if not facts.local:
        return GoldPlan("rebuild", "updates read Parquet files directly: local lakes only")
    if not facts.inputs_readable:
        return GoldPlan("rebuild", "files of the recorded input versions were vacuumed")
    if facts.input_rows < min_rows:
        return GoldPlan("rebuild", f"small inputs ({facts.input_rows} rows) are rebuilt from")
    if facts.changed_rows > max_changed_share * facts.input_rows:
        return GoldPlan(
            "rebuild",
            f"{facts.changed_rows} changed input rows: more than {max_changed_share:.0%} of "
            f"{facts.input_rows}",
        )
    return GoldPlan("update", f"{facts.changed_rows} changed input rows")


def changed_keys_sql(key: str, columns: list[str]) -> str:
    """Keys whose gold-relevant columns differ between relations `added` and `removed` (the rows
    of the files a version added and removed): a MERGE rewrites whole files, most of whose rows
    are unchanged, and those cancel out here."""
    cols = ", ".join(f'"{c}"' for c in columns)
    return (
        f'SELECT DISTINCT "{key}" FROM ('
        f"(SELECT {cols} FROM added EXCEPT ALL SELECT {cols} FROM removed) UNION ALL "
        f"(SELECT {cols} FROM removed EXCEPT ALL SELECT {cols} FROM added))"
    )


# The columns of gold.reviews_enriched that its aggregates read.
ENRICHED_DELTA_COLUMNS = [
    "review_id",
    "source",
    "asin",
    "reviewer_id",
    "rating",
    "verified",
    "review_date",
    "year",
    "month",
    "title",
    "brand",
    "main_cat",
    "price",
    "price_imputed",
]

# Enriched rows that changed, signed: +1 as they are now, -1 as they were. Inputs: `added`,
# `removed` (rows of the files added and removed since the aggregate's last build).
ENRICHED_DELTA_SQL = (
    "SELECT *, 1 AS sign FROM (SELECT {cols} FROM added EXCEPT ALL SELECT {cols} FROM removed) "
    "UNION ALL "
    "SELECT *, -1 AS sign FROM (SELECT {cols} FROM removed EXCEPT ALL SELECT {cols} FROM added)"
).format(cols=", ".join(ENRICHED_DELTA_COLUMNS))

# Signed sums per group of the `delta` relation; `{group}` is the group's columns.
_DELTA_SUMS = """
    coalesce(sum(sign), 0) AS d_reviews,
    count(*) FILTER (WHERE sign = 1) AS d_added,
    count(*) FILTER (WHERE sign = -1) AS d_removed,
    coalesce(sum(sign * rating), 0) AS d_rating_sum,
    coalesce(sum(sign) FILTER (WHERE verified IS NOT NULL), 0) AS d_verified_known,
    coalesce(sum(sign) FILTER (WHERE verified), 0) AS d_verified_true,
    coalesce(sum(sign) FILTER (WHERE source = 'batch'), 0) AS d_batch,
    coalesce(sum(sign) FILTER (WHERE source = 'stream'), 0) AS d_stream,
    min(review_date) FILTER (WHERE sign = 1) AS d_added_first,
    max(review_date) FILTER (WHERE sign = 1) AS d_added_last,
    min(review_date) FILTER (WHERE sign = -1) AS d_removed_first,
    max(review_date) FILTER (WHERE sign = -1) AS d_removed_last
"""


def _mean(old_mean: str, old_count: str, delta_sum: str, new_count: str) -> str:
    """The new mean of a whole-number column from the old mean and count and the change."""
    return (
        f"CASE WHEN {new_count} > 0 THEN CAST(coalesce(round({old_mean} * {old_count}), 0) + "
        f"{delta_sum} AS DOUBLE) / {new_count} END"
    )


def _dirty_dates(old_first: str, old_last: str) -> str:
    """A removed row held the group's first or last date: recompute the group."""
    return (
        f"(d_removed_first IS NOT NULL AND d_removed_first <= {old_first}) OR "
        f"(d_removed_last IS NOT NULL AND d_removed_last >= {old_last})"
    )


_VERIFIED_SHARE = _mean(
    "o_verified_share",
    "o_verified_known",
    "d_verified_true",
    "(o_verified_known + d_verified_known)",
)
_KPIS_VERIFIED_SHARE = _mean(
    "o.verified_share",
    "o.verified_known_reviews",
    "d_verified_true",
    "(o.verified_known_reviews + d_verified_known)",
)

# Updated rows of gold.product_summary for the products in `delta`. Inputs: `delta`, `old` (the
# table). Adds `dirty` (recompute from reviews) and keeps groups left without reviews (reviews
# 0), which the caller deletes.
PRODUCT_SUMMARY_UPDATE_SQL = f"""
WITH d AS (
    SELECT asin,
        any_value(title) FILTER (WHERE sign = 1) AS title,
        any_value(brand) FILTER (WHERE sign = 1) AS brand,
        any_value(main_cat) FILTER (WHERE sign = 1) AS main_cat,
        any_value(price) FILTER (WHERE sign = 1) AS price,
        bool_or(price_imputed) FILTER (WHERE sign = 1) AS price_imputed,
        {_DELTA_SUMS}
    FROM delta GROUP BY asin
),
j AS (
    SELECT d.*, o.asin IS NOT NULL AS existed,
        o.title AS o_title, o.brand AS o_brand, o.main_cat AS o_main_cat, o.price AS o_price,
        o.price_imputed AS o_price_imputed, coalesce(o.reviews, 0) AS o_reviews,
        o.avg_rating AS o_avg_rating, o.verified_share AS o_verified_share,
        coalesce(o.verified_known_reviews, 0) AS o_verified_known,
        coalesce(o.batch_reviews, 0) AS o_batch, coalesce(o.stream_reviews, 0) AS o_stream,
        o.first_review_date AS o_first, o.last_review_date AS o_last
    FROM d LEFT JOIN old AS o ON o.asin = d.asin
)
SELECT
    asin,
    CASE WHEN d_added > 0 THEN title ELSE o_title END AS title,
    CASE WHEN d_added > 0 THEN brand ELSE o_brand END AS brand,
    CASE WHEN d_added > 0 THEN main_cat ELSE o_main_cat END AS main_cat,
    CASE WHEN d_added > 0 THEN price ELSE o_price END AS price,
    CASE WHEN d_added > 0 THEN price_imputed ELSE o_price_imputed END AS price_imputed,
    o_reviews + d_reviews AS reviews,
    {_mean("o_avg_rating", "o_reviews", "d_rating_sum", "(o_reviews + d_reviews)")} AS avg_rating,
    {_VERIFIED_SHARE} AS verified_share,
    o_batch + d_batch AS batch_reviews,
    o_stream + d_stream AS stream_reviews,
    CASE WHEN existed THEN least(o_first, d_added_first) ELSE d_added_first END
        AS first_review_date,
    CASE WHEN existed THEN greatest(o_last, d_added_last) ELSE d_added_last END
        AS last_review_date,
    o_verified_known + d_verified_known AS verified_known_reviews,
    existed AND ({_dirty_dates("o_first", "o_last")}) AS dirty
FROM j
"""

# Updated rows of gold.category_monthly for the groups in `delta`. Inputs: `delta`, `old`.
CATEGORY_MONTHLY_UPDATE_SQL = f"""
WITH d AS (
    SELECT coalesce(main_cat, 'Unknown') AS main_cat, year, month,
        coalesce(sum(sign * price), 0) AS d_price_sum,
        coalesce(sum(sign) FILTER (WHERE price IS NOT NULL), 0) AS d_priced,
        {_DELTA_SUMS}
    FROM delta GROUP BY ALL
),
j AS (
    SELECT d.*, coalesce(o.reviews, 0) AS o_reviews, o.avg_rating AS o_avg_rating,
        o.verified_share AS o_verified_share,
        coalesce(o.verified_known_reviews, 0) AS o_verified_known,
        o.avg_price AS o_avg_price, coalesce(o.priced_reviews, 0) AS o_priced
    FROM d LEFT JOIN old AS o ON o.main_cat = d.main_cat
        AND o.year IS NOT DISTINCT FROM d.year AND o.month IS NOT DISTINCT FROM d.month
)
SELECT
    main_cat,
    year,
    month,
    o_reviews + d_reviews AS reviews,
    {_mean("o_avg_rating", "o_reviews", "d_rating_sum", "(o_reviews + d_reviews)")} AS avg_rating,
    {_VERIFIED_SHARE} AS verified_share,
    CASE WHEN o_priced + d_priced > 0 THEN
        (coalesce(o_avg_price * o_priced, 0) + d_price_sum) / (o_priced + d_priced) END
        AS avg_price,
    o_verified_known + d_verified_known AS verified_known_reviews,
    o_priced + d_priced AS priced_reviews,
    false AS dirty
FROM j
"""

# The updated single row of gold.kpis. Inputs: `delta`, `old` (the one row), `presence` (for
# each reviewer and product of `delta`: present before and after the change).
KPIS_UPDATE_SQL = f"""
WITH d AS (SELECT {_DELTA_SUMS} FROM delta),
p AS (
    SELECT
        coalesce(sum(CAST(after AS INTEGER) - CAST(before AS INTEGER))
            FILTER (WHERE kind = 'reviewer'), 0) AS d_reviewers,
        coalesce(sum(CAST(after AS INTEGER) - CAST(before AS INTEGER))
            FILTER (WHERE kind = 'product'), 0) AS d_products
    FROM presence
)
SELECT
    o.reviews + d_reviews AS reviews,
    o.reviewers + d_reviewers AS reviewers,
    o.products + d_products AS products,
    {_mean("o.avg_rating", "o.reviews", "d_rating_sum", "(o.reviews + d_reviews)")} AS avg_rating,
    {_KPIS_VERIFIED_SHARE} AS verified_share,
    o.batch_reviews + d_batch AS batch_reviews,
    o.stream_reviews + d_stream AS stream_reviews,
    CASE WHEN o.reviews = 0 THEN d_added_first
        ELSE least(o.first_review_date, d_added_first) END AS first_review_date,
    CASE WHEN o.reviews = 0 THEN d_added_last
        ELSE greatest(o.last_review_date, d_added_last) END AS last_review_date,
    o.verified_known_reviews + d_verified_known AS verified_known_reviews,
    {_dirty_dates("o.first_review_date", "o.last_review_date")} AS dirty
FROM old AS o, d, p
"""


@dataclass(frozen=True)
class AggregateSpec:
    """How one aggregate of gold.reviews_enriched is updated."""

    group: tuple[str, ...]  # the group's columns ((): one row)
    update_sql: str
    rebuild_sql: str  # the full query, also run on the reviews of dirty groups


def null_safe_match(left: str, right: str, columns: tuple[str, ...]) -> str:
    return " AND ".join(f'{left}."{c}" IS NOT DISTINCT FROM {right}."{c}"' for c in columns)
