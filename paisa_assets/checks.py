"""Asset checks: keys unique and present, ratings in range, and row reconciliation.

Checks run over whole tables (after a partition run too), with DuckDB projecting only the
columns a check needs, so they stay cheap on a large lake.
"""

import time
from collections.abc import Callable, Sequence
from functools import partial

import duckdb
import polars as pl
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    DagsterEventType,
    DagsterInstance,
    MetadataValue,
    asset_check,
)

from paisa_assets import registry
from paisa_assets.check_scope import check_scope
from paisa_assets.checks_changed import (
    REVIEW_ID_IMAGE,
    KeyDigest,
    KeyImage,
    changed_partitions,
    count_in_changes,
    digest_mismatches,
    key_image,
    unique_keys_of_changes,
)
from paisa_assets.delta_changes import row_count
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.sql_quoting import in_list, quote_ident, sql_string
from paisa_assets.tables import (
    BRONZE_METADATA,
    BRONZE_METADATA_QUARANTINE,
    BRONZE_REVIEWS,
    BRONZE_REVIEWS_QUARANTINE,
    GOLD_REVIEWS_ENRICHED,
    SILVER_METADATA,
    SILVER_METADATA_QUARANTINE,
    SILVER_REVIEWS,
    SILVER_REVIEWS_QUARANTINE,
    asset_key,
)
from paisa_assets.transforms.reviews import review_ids

# Silver's review_id is the digest of its (trimmed) reviewerID and asin (`transforms.reviews`).
REVIEW_ID_DIGEST = KeyDigest("review_id", ("reviewerID", "asin"), review_ids)
# Every quarantine table of a layer has the same columns (see the registry).
BRONZE_QUARANTINE_COLUMNS = registry.table(BRONZE_REVIEWS_QUARANTINE).polars_schema()
SILVER_QUARANTINE_SCHEMA = registry.table(SILVER_REVIEWS_QUARANTINE).polars_schema()


def key_of(table: str) -> list[str]:
    """The table's key, as the registry declares it."""
    return list(registry.table(table).key)


def _query(
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    sql: str,
    relations: dict[str, str],
    empty_when_missing: dict[str, pl.Schema] | None = None,
    temp_tables: dict[str, str | Callable[[duckdb.DuckDBPyConnection], str]] | None = None,
) -> tuple:
    """One row of SQL over Delta tables (see `Warehouse.session`), after creating
    `temp_tables` ({name: query, or a function of the connection giving it}) in order."""
    with warehouse.session(lakehouse, relations, empty_when_missing) as con:
        for name, query in (temp_tables or {}).items():
            sql_text = query(con) if callable(query) else query
            con.execute(f"CREATE TEMP TABLE {name} AS {sql_text}")
        row = con.execute(sql).fetchone()
    assert row is not None
    return row


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _key_digest(alias: str, columns: Sequence[str]) -> str:
    """A 128-bit digest of the (trimmed) key columns, null parts told apart from any text.

    Sets of millions of keys are joined and counted as 16-byte numbers instead of structs of
    strings: a quarter of the memory, and sets DuckDB spills to disk whole. Two distinct keys
    share a digest with odds of about 1e-23 at 140M keys.
    """
    parts = ", ".join(f"coalesce('=' || trim({alias}.\"{c}\"), '!')" for c in columns)
    return f"md5_number(concat_ws(chr(31), {parts}))"


def _register_leftover_images(
    con: duckdb.DuckDBPyConnection,
    natural_key: Sequence[str],
    key_lookup: tuple[KeyDigest, KeyImage],
) -> None:
    """`leftover_images`: the leftover natural keys (`key_0`...) with their digest's image."""
    digest, image = key_lookup
    leftover = con.sql("SELECT * FROM leftover").pl()
    ids = digest.compute(*(leftover[f"key_{natural_key.index(p)}"] for p in digest.parts))
    frame = leftover.with_columns(pl.lit(ids).alias(image.key)).with_columns(
        image.compute(pl.col(image.key)).alias("image")
    )
    con.register("leftover_images", frame)


def unique_key_check(
    table: str, keys: Sequence[str], digest: KeyDigest | None = None
) -> AssetChecksDefinition:
    """No two rows share the key, and no key column is null.

    With `digest` (a key column computed from these columns), every row's digest must also
    match its parts; a check on changes then verifies that on the rows added, and looks for
    duplicates of the digest column instead of the parts (see `KeyDigest`): the rest of the
    table passed the same verification when its rows were added, or in the last full check.
    """
    name = "unique_not_null_" + "_".join(k.lower() for k in keys)

    @asset_check(
        asset=asset_key(table),
        name=name,
        description=f"{', '.join(keys)} is unique and never null in {table}"
        + (f" (and {digest.column} is its digest)." if digest else "."),
        blocking=True,
    )
    def _check(
        context: AssetCheckExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
    ) -> AssetCheckResult:
        scope = check_scope(context, AssetCheckKey(asset_key(table), name), lakehouse, [table])
        mismatches = 0
        # The key's image column (`KeyImage`), checked by the key's own check.
        dt = lakehouse.delta_table(table)
        image = key_image(dt, keys) if dt is not None and digest is None else None
        wrong_images = 0
        if not scope.full:
            diff = scope.diffs[table]
            if digest is None:
                checked, null_keys, duplicates, wrong_images = unique_keys_of_changes(
                    lakehouse, warehouse, table, keys, diff
                )
            else:
                checked, null_keys, mismatches = digest_mismatches(
                    lakehouse, warehouse, table, digest, diff.added
                )
                duplicates = unique_keys_of_changes(
                    lakehouse, warehouse, table, [digest.column], diff
                ).duplicates
            rows = row_count(lakehouse, table)
        else:
            nulls = " OR ".join(f'"{k}" IS NULL' for k in keys)
            wrong = (
                image.mismatch_sql(quote_ident(image.key), quote_ident(image.column))
                if image
                else "false"
            )
            rows, null_keys, duplicates, wrong_images = _query(
                lakehouse,
                warehouse,
                f"SELECT count(*), count(*) FILTER (WHERE {nulls}), "
                f"(SELECT count(*) - count(DISTINCT ({_quoted(keys)})) FROM t "
                f"WHERE NOT ({nulls})), count(*) FILTER (WHERE {wrong}) FROM t",
                {"t": table},
            )
            checked = rows
            if digest is not None:
                _, _, mismatches = digest_mismatches(lakehouse, warehouse, table, digest)
        return AssetCheckResult(
            passed=duplicates == 0 and null_keys == 0 and mismatches == 0 and wrong_images == 0,
            metadata={
                "rows": MetadataValue.int(rows),
                "rows_checked": MetadataValue.int(checked),
                "duplicate_rows": MetadataValue.int(duplicates),
                "null_keys": MetadataValue.int(null_keys),
                **(
                    {f"{digest.column}_not_the_digest": MetadataValue.int(mismatches)}
                    if digest
                    else {}
                ),
                **(
                    {f"{image.column}_not_{image.key}": MetadataValue.int(wrong_images)}
                    if image
                    else {}
                ),
                **scope.metadata(),
            },
        )

    return _check


def rating_range_check(table: str, column: str) -> AssetChecksDefinition:
    @asset_check(
        asset=asset_key(table),
        name=f"{column.lower()}_between_1_and_5",
        description=f"Every {column} in {table} is a whole star rating 1..5.",
    )
    def _check(
        context: AssetCheckExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
    ) -> AssetCheckResult:
        key = AssetCheckKey(asset_key(table), f"{column.lower()}_between_1_and_5")
        scope = check_scope(context, key, lakehouse, [table])
        bad_rows = f'"{column}" IS NULL OR "{column}" NOT BETWEEN 1 AND 5'
        if scope.full:
            (bad,) = _query(
                lakehouse, warehouse, f"SELECT count(*) FROM t WHERE {bad_rows}", {"t": table}
            )
        else:
            bad = count_in_changes(
                lakehouse, warehouse, table, [column], bad_rows, scope.diffs[table]
            )
        return AssetCheckResult(
            passed=bad == 0,
            metadata={"out_of_range": MetadataValue.int(bad), **scope.metadata()},
        )

    return _check


# The pause before a failed reconciliation is read again (see `reconciliation_check`).
RECONCILIATION_RECHECK_SECONDS = 1.0


def pause_before_reading_again() -> None:
    time.sleep(RECONCILIATION_RECHECK_SECONDS)


def folders_in_flight(instance: DagsterInstance, bronze_table: str, silver_table: str) -> list[str]:
    """Landing folders whose bronze is newer than their silver: another run has ingested them
    and has not refreshed silver yet (the silver pool runs one writer at a time), so their rows
    are that run's to account for, not a loss."""
    latest = partial(
        instance.get_latest_storage_id_by_partition,
        event_type=DagsterEventType.ASSET_MATERIALIZATION,
    )
    bronze = latest(asset_key(bronze_table))
    silver = latest(asset_key(silver_table))
    return sorted(p for p, storage_id in bronze.items() if storage_id > silver.get(p, -1))


def reconciliation_check(
    bronze_table: str,
    silver_table: str,
    quarantine_table: str,
    dataset: str,
    natural_key: Sequence[str],
    key_lookup: tuple[KeyDigest, KeyImage] | None = None,
) -> AssetChecksDefinition:
    """bronze rows = silver rows + quarantined + duplicates dropped, each counted independently,
    over the whole table.

    `key_lookup` (silver's key: a digest of the natural key, and that key's image column) is
    how a check on changes finds the natural keys silver holds in other folders: by the digest's
    image, an integer column, instead of by the natural key's strings (see `silver_keys`).

    Duplicates are counted from bronze itself (rows outside quarantine minus their distinct
    natural keys), so the equation fails if silver lost or doubled a row, or if quarantine missed
    or over-counted one. It is checked over every landing folder, not only the run's: a run of
    one folder can lose a key whose surviving copy sits in another folder. Folders another run
    has ingested but not yet refreshed in silver (`folders_in_flight`) are left out.
    """

    @asset_check(
        asset=asset_key(silver_table),
        name="reconciles_with_bronze",
        description=(
            f"Rows of {bronze_table} = rows of {silver_table} + rows quarantined + duplicates "
            "dropped: no valid key lost, none doubled (every landing folder but those another "
            "run is still ingesting)."
        ),
        blocking=True,
    )
    def _check(
        context: AssetCheckExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
    ) -> AssetCheckResult:
        # The three tables are read one after the other, and a run outside the pools (a CLI
        # run beside another) commits its bronze folder a moment before its event says so, so
        # a first reading can count that folder's bronze rows without its silver rows. A loss
        # is still there on a second reading, with the runs in flight read again: only a
        # failure confirmed by it stands.
        first = evaluate(context, lakehouse, warehouse)
        if first.passed:
            return first
        pause_before_reading_again()
        again = evaluate(context, lakehouse, warehouse)
        metadata = {**again.metadata, "read_again_after_a_failure": MetadataValue.bool(True)}
        return AssetCheckResult(passed=again.passed, metadata=metadata)

    def evaluate(
        context: AssetCheckExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
    ) -> AssetCheckResult:
        in_flight = folders_in_flight(context.instance, bronze_table, silver_table)
        settled = (
            f"_partition NOT IN ({', '.join(sql_string(p) for p in in_flight)})"
            if in_flight
            else "TRUE"
        )
        tables = [bronze_table, silver_table, quarantine_table]
        key = AssetCheckKey(asset_key(silver_table), "reconciles_with_bronze")
        scope = check_scope(context, key, lakehouse, tables)
        folders: list[str] | None = None  # None: every landing folder
        if not scope.full:
            with warehouse.engine() as con:
                folders = changed_partitions(
                    con, lakehouse, dict(scope.diffs), {quarantine_table: dataset}
                )
            folders = [f for f in folders if f not in in_flight]
            if not folders:
                return AssetCheckResult(
                    passed=True,
                    metadata={
                        "landing_folders": MetadataValue.text("none changed"),
                        **scope.metadata(),
                    },
                )
            settled = f"{settled} AND {in_list('_partition', folders)}"

        # Checking changed folders only: their silver rows are read by partition, and the keys
        # silver holds under another folder (a duplicate whose first copy arrived elsewhere)
        # are looked up by their key columns (a semi-join with the few keys left over).
        def silver_keys(con: duckdb.DuckDBPyConnection) -> str:
            hashed = _key_digest("s", natural_key)
            if folders is None:
                return f"SELECT {hashed} AS natural_key, {settled} AS owned FROM silver AS s"
            con.execute(
                f"CREATE TEMP TABLE owned_keys AS SELECT {hashed} AS natural_key "
                f"FROM silver AS s WHERE {settled}"
            )
            # The keys of valid bronze rows these folders do not own in silver: duplicates
            # whose first copy arrived in another folder, looked up there by a semi-join on
            # every key column with this (small) table. Silver holds trimmed keys, so its
            # columns are compared as they are (a `trim` on every row of every other folder was
            # most of the check on a large lake); an untrimmed silver key would not be found,
            # and the check fails, as it should. On 5M reviews: 0.41 CPU-s, against 0.48 by the
            # first column alone (every review of a leftover reviewer then digested) and 0.56
            # by a literal IN list; by review_id, 0.64 (three columns read: DuckDB reads every
            # selected column of every row behind a join, only a count prunes them).
            parts = ", ".join(f"key_{i}" for i in range(len(natural_key)))
            con.execute(
                f"CREATE TEMP TABLE leftover AS SELECT DISTINCT {parts} FROM valid "
                "ANTI JOIN owned_keys USING (natural_key)"
            )
            (leftover,) = con.execute("SELECT count(*) FROM leftover").fetchall()[0]
            if not leftover:
                return "SELECT natural_key, TRUE AS owned FROM owned_keys"
            owned_sql = "SELECT natural_key, TRUE AS owned FROM owned_keys UNION ALL "
            held = lakehouse.delta_table(silver_table) if key_lookup is not None else None
            if held is not None and key_image(held, [key_lookup[0].column]) == key_lookup[1]:  # type: ignore[index]
                # By the image of the leftover keys' digest: the key column alone is read (5M
                # reviews: 0.09 CPU-s against 0.33 by the pair's columns). A row is found by its
                # natural key's digest, which the pair check verifies (review_id is the digest
                # of reviewerID and asin), and its image the review_id check.
                _register_leftover_images(con, natural_key, key_lookup)  # type: ignore[arg-type]
                parts = [f"key_{i}" for i in range(len(natural_key))]
                image = quote_ident(key_lookup[1].column)  # type: ignore[index]
                return (
                    f"{owned_sql}SELECT {_key_digest('l', parts)}, FALSE FROM leftover_images "
                    f"AS l SEMI JOIN (SELECT {image} FROM silver WHERE NOT ({settled})) AS s "
                    f"ON s.{image} = l.image"
                )
            on = " AND ".join(f's."{c}" = l.key_{i}' for i, c in enumerate(natural_key))
            return (
                f"{owned_sql}SELECT {hashed}, FALSE FROM silver AS s SEMI JOIN leftover AS l "
                f"ON {on} WHERE NOT ({settled})"
            )

        # Silver trims the key columns (both sides are trimmed here: a no-op on silver). The
        # key sets go to temp tables, which DuckDB spills whole past its memory limit: one
        # query of CTEs ran out of memory at 3M reviews under a 512 MB limit.
        bronze, quarantined, distinct_valid, missing, owned, owned_keys, foreign = _query(
            lakehouse,
            warehouse,
            f"""
            SELECT (SELECT count(*) FROM bronze WHERE {settled}), (SELECT count(*) FROM q),
                   (SELECT count(*) FROM valid),
                   (SELECT count(*) FROM valid ANTI JOIN silver_keys USING (natural_key)),
                   (SELECT count(*) FROM silver_keys WHERE owned),
                   (SELECT count(DISTINCT natural_key) FROM silver_keys WHERE owned),
                   (SELECT count(*) FROM silver_keys ANTI JOIN valid USING (natural_key)
                    WHERE owned)
            """,
            {"bronze": bronze_table, "quarantine": quarantine_table, "silver": silver_table},
            empty_when_missing={quarantine_table: SILVER_QUARANTINE_SCHEMA},
            temp_tables={
                "q": "SELECT _source_file, _line FROM quarantine "
                f"WHERE dataset = {sql_string(dataset)} AND {settled}",
                "valid": f"SELECT DISTINCT {_key_digest('b', natural_key)} AS natural_key, "
                + ", ".join(f'trim(b."{c}") AS key_{i}' for i, c in enumerate(natural_key))
                + " "
                f"FROM (SELECT * FROM bronze WHERE {settled}) AS b "
                "ANTI JOIN q ON q._source_file = b._source_file AND q._line = b._line",
                "silver_keys": silver_keys,
            },
        )
        duplicates = bronze - quarantined - distinct_valid
        return AssetCheckResult(
            passed=missing == 0 and foreign == 0 and owned == owned_keys,
            metadata={
                "landing_folders": MetadataValue.text(
                    (f"{len(folders)} changed: {', '.join(folders[:20])}" if folders else "all")
                    + (
                        f" but {len(in_flight)} still being ingested by another run: "
                        + ", ".join(in_flight[:20])
                        if in_flight
                        else ""
                    )
                ),
                "bronze_rows": MetadataValue.int(bronze),
                "silver_rows": MetadataValue.int(owned),
                "quarantined": MetadataValue.int(quarantined),
                "duplicates_dropped": MetadataValue.int(duplicates),
                "distinct_valid_keys_in_bronze": MetadataValue.int(distinct_valid),
                "valid_keys_missing_from_silver": MetadataValue.int(missing),
                "silver_rows_without_a_bronze_row": MetadataValue.int(foreign),
                **scope.metadata(),
            },
        )

    return _check


def one_spelling_per_category_check(table: str, column: str) -> AssetChecksDefinition:
    """No two values of `column` differ only in case: "AMAZON FASHION" beside "Amazon Fashion"
    would be two categories in gold, and impute prices from the wrong group's mean."""

    @asset_check(
        asset=asset_key(table),
        name=f"one_spelling_per_{column.lower()}",
        description=f"Every {column} of {table} has one spelling (no two differ only in case).",
    )
    def _check(
        context: AssetCheckExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
    ) -> AssetCheckResult:
        (spellings, categories, examples) = _query(
            lakehouse,
            warehouse,
            f"""
            SELECT count(DISTINCT "{column}"), count(DISTINCT lower("{column}")),
                   (SELECT string_agg(s, ' | ' ORDER BY s) FROM (
                       SELECT string_agg(DISTINCT "{column}", ' / ' ORDER BY "{column}") AS s
                       FROM t GROUP BY lower("{column}")
                       HAVING count(DISTINCT "{column}") > 1 ORDER BY 1 LIMIT 5))
            FROM t
            """,
            {"t": table},
        )
        return AssetCheckResult(
            passed=spellings == categories,
            metadata={
                "values": MetadataValue.int(spellings),
                "values_ignoring_case": MetadataValue.int(categories),
                "examples": MetadataValue.text(examples or ""),
            },
        )

    return _check


def unreadable_files_check(
    table: str, quarantine_table: str, dataset: str
) -> AssetChecksDefinition:
    """Landing files that could not be read (no permission, not gzip, another encoding,
    vanished): counted and named, never skipped silently. A warning: the rest was ingested, and
    the file is read again once it changes (fixing a permission changes its ctime)."""

    @asset_check(
        asset=asset_key(table),
        name="every_landing_file_readable",
        description=f"Every landing file of {dataset} could be read (see {quarantine_table}).",
    )
    def _check(
        context: AssetCheckExecutionContext, lakehouse: Lakehouse, warehouse: Warehouse
    ) -> AssetCheckResult:
        (count, files) = _query(
            lakehouse,
            warehouse,
            "SELECT count(*), string_agg(_source_file || ' (' || reason || ')', '; ') "
            f"FROM (SELECT * FROM q WHERE dataset = {sql_string(dataset)} AND _line IS NULL "
            "AND reason LIKE 'unreadable file%' ORDER BY _source_file LIMIT 20)",
            {"q": quarantine_table},
            empty_when_missing={quarantine_table: BRONZE_QUARANTINE_COLUMNS},
        )
        return AssetCheckResult(
            passed=count == 0,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "unreadable_files": MetadataValue.int(count),
                "files": MetadataValue.text(files or ""),
            },
        )

    return _check


asset_checks = [
    unique_key_check(SILVER_REVIEWS, key_of(SILVER_REVIEWS)),
    unique_key_check(SILVER_METADATA, key_of(SILVER_METADATA)),
    unique_key_check(GOLD_REVIEWS_ENRICHED, key_of(GOLD_REVIEWS_ENRICHED)),
    unique_key_check(SILVER_REVIEWS, ["reviewerID", "asin"], REVIEW_ID_DIGEST),
    rating_range_check(SILVER_REVIEWS, "overall"),
    rating_range_check(GOLD_REVIEWS_ENRICHED, "rating"),
    reconciliation_check(
        BRONZE_REVIEWS,
        SILVER_REVIEWS,
        SILVER_REVIEWS_QUARANTINE,
        "amazon_reviews",
        ["reviewerID", "asin"],
        (REVIEW_ID_DIGEST, REVIEW_ID_IMAGE),
    ),
    reconciliation_check(
        BRONZE_METADATA, SILVER_METADATA, SILVER_METADATA_QUARANTINE, "amazon_metadata", ["asin"]
    ),
    one_spelling_per_category_check(SILVER_METADATA, "main_cat"),
    unreadable_files_check(BRONZE_REVIEWS, BRONZE_REVIEWS_QUARANTINE, "amazon_reviews"),
    unreadable_files_check(BRONZE_METADATA, BRONZE_METADATA_QUARANTINE, "amazon_metadata"),
]
