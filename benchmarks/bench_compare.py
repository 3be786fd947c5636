"""Do paisa and PySpark produce the same silver and gold? Row counts, key sets, checksums.

For each table both engines write, DuckDB reads paisa's Delta table and Spark's Parquet files
and compares:

- the row count;
- the key set (rows whose key only one side has, with a few examples);
- an order-independent checksum of every compared column but the doubles: the sum, over rows,
  of a 64-bit hash of the row's key and the column's value rendered as text;
- the doubles (prices, means, shares) row by row, joined on the key: two engines summing in
  different orders differ in the last bits, so values within 1e-9 (relative) agree.

The compared columns are every column both compute, except three lineage columns whose values
differ by construction: `_source_file` (a URI in Spark), `_line` (a monotonically increasing id
in Spark) and `_ingested_at` (each engine's clock). `benchmarks/run.py` fails (exit code 1)
when anything differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

_EXAMPLES = 3
# Two doubles that differ beyond the last bits two summation orders explain.
_APART = (
    "{p} IS DISTINCT FROM {s} AND ({p} IS NULL OR {s} IS NULL "
    "OR abs({p} - {s}) > 1e-9 * greatest(1, abs({p})))"
)


@dataclass(frozen=True)
class Compared:
    table: str  # paisa's name; Spark's files are under <layer>/<name>
    key: tuple[str, ...]
    columns: tuple[str, ...]
    doubles: tuple[str, ...] = ()


TABLES = (
    Compared(
        "silver.amazon_reviews",
        ("review_id",),
        (
            "asin",
            "reviewerID",
            "reviewerName",
            "overall",
            "reviewText",
            "summary",
            "unixReviewTime",
            "reviewTime",
            "review_date",
            "verified",
            "vote",
            "style",
            "image",
            "_partition",
        ),
    ),
    Compared(
        "silver.amazon_metadata",
        ("asin",),
        (
            "title",
            "brand",
            "main_cat",
            "category",
            "price",
            "price_min",
            "price_max",
            "price_raw",
            "price_invalid",
            "rank",
            "rank_category",
            "rank_raw",
            "also_buy",
            "also_view",
            "description",
            "feature",
            "image",
            "details",
            "date",
            "similar_item",
            "tech1",
            "tech2",
            "fit",
            "_partition",
        ),
        doubles=("price", "price_min", "price_max"),
    ),
    Compared(
        "gold.reviews_enriched",
        ("review_id",),
        (
            "source",
            "asin",
            "reviewer_id",
            "reviewer_name",
            "rating",
            "summary",
            "review_text",
            "review_date",
            "year",
            "month",
            "verified",
            "votes",
            "style",
            "image_count",
            "review_words",
            "has_metadata",
            "title",
            "brand",
            "main_cat",
            "category",
            "listed_price",
            "price",
            "price_imputed",
            "sales_rank",
            "sales_rank_category",
        ),
        doubles=("listed_price", "price"),
    ),
    Compared(
        "gold.product_summary",
        ("asin",),
        (
            "title",
            "brand",
            "main_cat",
            "price",
            "price_imputed",
            "reviews",
            "avg_rating",
            "verified_share",
            "batch_reviews",
            "stream_reviews",
            "first_review_date",
            "last_review_date",
        ),
        doubles=("price", "avg_rating", "verified_share"),
    ),
    Compared(
        "gold.category_monthly",
        ("main_cat", "year", "month"),
        ("reviews", "avg_rating", "verified_share", "avg_price"),
        doubles=("avg_rating", "verified_share", "avg_price"),
    ),
    Compared(
        "gold.kpis",
        (),
        (
            "reviews",
            "reviewers",
            "products",
            "avg_rating",
            "verified_share",
            "batch_reviews",
            "stream_reviews",
            "first_review_date",
            "last_review_date",
        ),
        doubles=("avg_rating", "verified_share"),
    ),
)


def _text(column: str) -> str:
    """The column as comparable text: integers of any width alike, lists and dates in DuckDB's
    rendering; null as a marker no value can take."""
    return f'coalesce(CAST("{column}" AS VARCHAR), chr(0))'


def _key(spec: Compared) -> str:
    if not spec.key:
        return "''"
    return "concat_ws(chr(31), " + ", ".join(_text(k) for k in spec.key) + ")"


def _checksums(con: Any, relation: str, spec: Compared) -> dict[str, Any]:
    exact = [c for c in spec.columns if c not in spec.doubles]
    sums = "".join(
        f', sum(hash(concat_ws(chr(31), __key, {_text(c)}))::HUGEINT) AS "{c}"' for c in exact
    )
    row = con.sql(
        f"SELECT count(*) AS __rows{sums} FROM (SELECT *, {_key(spec)} AS __key FROM {relation})"
    ).fetchall()[0]
    return {"rows": row[0], "columns": {c: str(v) for c, v in zip(exact, row[1:], strict=True)}}


def _doubles_apart(con: Any, spec: Compared) -> dict[str, int]:
    """Per double column, the rows (matched on the key) whose values differ beyond 1e-9."""
    if not spec.doubles:
        return {}
    columns = ", ".join(f'CAST("{c}" AS DOUBLE) AS "{c}"' for c in spec.doubles)
    counts = ", ".join(
        "count(*) FILTER (WHERE " + _APART.format(p=f'p."{c}"', s=f's."{c}"') + ")"
        for c in spec.doubles
    )
    row = con.sql(
        f"""SELECT {counts}
        FROM (SELECT {_key(spec)} AS __key, {columns} FROM paisa) p
        JOIN (SELECT {_key(spec)} AS __key, {columns} FROM spark) s USING (__key)"""
    ).fetchall()[0]
    return dict(zip(spec.doubles, row, strict=True))


def compare_table(con: Any, spec: Compared) -> dict[str, Any]:
    """The two sides of one table (registered as `paisa` and `spark`), compared."""
    paisa = _checksums(con, "paisa", spec)
    spark = _checksums(con, "spark", spec)
    only = {}
    for side, other in (("paisa", "spark"), ("spark", "paisa")):
        query = f"SELECT {_key(spec)} FROM {side} EXCEPT SELECT {_key(spec)} FROM {other}"
        count = con.sql(f"SELECT count(*) FROM ({query})").fetchall()[0][0]
        examples = [r[0] for r in con.sql(f"{query} LIMIT {_EXAMPLES}").fetchall()]
        only[side] = {"keys": count, "examples": examples}
    apart = _doubles_apart(con, spec)
    differing = [
        c
        for c in spec.columns
        if (apart[c] if c in spec.doubles else paisa["columns"][c] != spark["columns"][c])
    ]
    return {
        "key": list(spec.key),
        "rows": {"paisa": paisa["rows"], "spark": spark["rows"]},
        "keys_only_in": only,
        "columns_checksummed": [c for c in spec.columns if c not in spec.doubles],
        "doubles_compared_by_row": list(spec.doubles),
        "columns_differing": differing,
        "same": paisa["rows"] == spark["rows"]
        and not only["paisa"]["keys"]
        and not only["spark"]["keys"]
        and not differing,
    }


def _differing_example(con: Any, spec: Compared, column: str) -> list[Any]:
    """A few keys whose value of `column` differs, with both values (to find the cause)."""
    key = _key(spec)
    if column in spec.doubles:
        value = f'CAST("{column}" AS DOUBLE)'
        apart = _APART.format(p="p.v", s="s.v")
    else:
        value = _text(column)
        apart = "p.v IS DISTINCT FROM s.v"
    query = f"""
        SELECT p.k, p.v AS paisa, s.v AS spark
        FROM (SELECT {key} AS k, {value} AS v FROM paisa) p
        JOIN (SELECT {key} AS k, {value} AS v FROM spark) s USING (k)
        WHERE {apart} LIMIT {_EXAMPLES}"""
    return [list(r) for r in con.sql(query).fetchall()]


def compare_outputs(lake: Path, spark_lake: Path) -> dict[str, Any]:
    """Every table of TABLES compared; `same` is true when all of them agree."""
    import duckdb
    from deltalake import DeltaTable

    tables: dict[str, Any] = {}
    with duckdb.connect(config={"threads": 2, "memory_limit": "1GB"}) as con:
        for spec in TABLES:
            layer, name = spec.table.split(".")
            paisa = DeltaTable(str(lake / layer / name)).to_pyarrow_dataset()
            con.register("paisa", paisa)
            files = str(spark_lake / layer / name / "*.parquet")
            con.execute(f"CREATE OR REPLACE VIEW spark AS SELECT * FROM read_parquet('{files}')")
            figures = compare_table(con, spec)
            if spec.key:
                figures["examples"] = {
                    column: _differing_example(con, spec, column)
                    for column in figures["columns_differing"]
                }
            tables[spec.table] = figures
            con.unregister("paisa")
    return {
        "same": all(t["same"] for t in tables.values()),
        "differing_tables": [name for name, t in tables.items() if not t["same"]],
        "tables": tables,
    }
