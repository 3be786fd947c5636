"""Silver refresh: typed, validated, deduplicated rows MERGEd from bronze, chunk by chunk.

Deduplication is global (across partitions and re-runs) and independent of the order in which
partitions run: each key has one winning copy by a fixed rule, enforced inside the Delta MERGE,
and every silver row remembers the partition that owns it. A partition's run is authoritative
for the rows it owns, so a re-ingested file can also withdraw rows.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from paisa_assets.faults import crash_point
from paisa_assets.lake_views import arrow_schema, ensure_table
from paisa_assets.materialization_metadata import Tally, rows_per_partition
from paisa_assets.registry import delta_partition_by
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import METADATA_DATASET, REVIEWS_DATASET
from paisa_assets.sql_quoting import in_list, sql_string
from paisa_assets.tables import (
    BRONZE_METADATA,
    BRONZE_REVIEWS,
    SILVER_METADATA,
    SILVER_METADATA_QUARANTINE,
    SILVER_REVIEWS,
    SILVER_REVIEWS_QUARANTINE,
)
from paisa_assets.transforms.dedupe import position_before
from paisa_assets.transforms.metadata import dedupe_metadata, split_metadata
from paisa_assets.transforms.review_key import REVIEW_KEY, review_key
from paisa_assets.transforms.reviews import dedupe_reviews, split_reviews
from paisa_assets.transforms.schemas import QUARANTINE_SCHEMA

# Silver is partitioned by the landing folder that owns each row: a folder's re-ingestion
# updates and deletes rows of its own partition (and of the few folders whose copies it
# outranks), so its MERGE reads and rewrites those partitions only (`Lakehouse.merge`'s
# `prune_by`), not the whole table. A silver table written before is migrated on first write.
SILVER_PARTITION_BY = delta_partition_by(SILVER_REVIEWS, SILVER_METADATA)

# Partitions merged together in one MERGE: a backfill of thousands of folders then makes a few
# large commits instead of one per folder, while memory stays bounded by this many bronze rows.
CHUNK_ROWS = 250_000
# A metadata row holds six decoded lists beside its raw text: at 1M products, 250,000-row
# chunks (typed and appended while the next one is prepared) peaked at 1.37 GiB in a one-off
# probe, 125,000 at 1.06 GiB in no more time (benchmarks/results/metadata_memory.json).
METADATA_CHUNK_ROWS = 125_000

SILVER_QUARANTINE_SCHEMA = pl.Schema({"dataset": pl.String(), **QUARANTINE_SCHEMA})

# The winning copy of a key, by position (folder, file, line; see `transforms.dedupe`): the
# same total order `dedupe_reviews` and `dedupe_metadata` apply inside a chunk, so the result
# does not depend on how folders were grouped into runs. Reviews: the first arrival wins.
FIRST_POSITION_WINS = position_before("s", "t")
# Metadata: the latest copy (the last position) wins.
LAST_POSITION_WINS = position_before("t", "s")


@dataclass(frozen=True)
class SilverSpec:
    """Everything that differs between the two silver tables; the code path is shared."""

    dataset: str
    bronze_table: str
    silver_table: str
    quarantine_table: str
    key: str
    split: Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]
    dedupe: Callable[[pl.DataFrame], pl.DataFrame]
    wins: str
    # Bronze columns whose trimmed values locate a key's copies (review_id is a hash of two).
    lookup: tuple[str, ...]
    # Bronze rows merged together in one MERGE at most (a single larger partition excepted).
    chunk_rows: int = CHUNK_ROWS
    # Columns computed from the others, which a table written before they existed gains in
    # its migration (`Lakehouse.migrate`), and the one of them the MERGE plan looks keys up by
    # (equal exactly when the keys are: see `transforms.review_key`).
    derived: Mapping[str, pl.Expr] = field(default_factory=dict)
    lookup_key: str | None = None


REVIEWS = SilverSpec(
    REVIEWS_DATASET,
    BRONZE_REVIEWS,
    SILVER_REVIEWS,
    SILVER_REVIEWS_QUARANTINE,
    "review_id",
    split_reviews,
    dedupe_reviews,
    FIRST_POSITION_WINS,
    ("asin", "reviewerID"),
    derived={REVIEW_KEY: review_key(pl.col("review_id"))},
    lookup_key=REVIEW_KEY,
)
METADATA = SilverSpec(
    METADATA_DATASET,
    BRONZE_METADATA,
    SILVER_METADATA,
    SILVER_METADATA_QUARANTINE,
    "asin",
    split_metadata,
    dedupe_metadata,
    LAST_POSITION_WINS,
    ("asin",),
    chunk_rows=METADATA_CHUNK_ROWS,
)


# Datasets whose latest copy of a key wins: their folders are best MERGEd latest first, in
# chunks (`in_merge_order`) and in runs (the landing sensor requests their ranges so).
LATEST_FIRST = frozenset(s.dataset for s in (REVIEWS, METADATA) if s.wins == LAST_POSITION_WINS)


@dataclass
class SilverOutcome(Tally):
    bronze_rows: int = 0
    quarantined: int = 0
    duplicates: int = 0
    owned_rows: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    promoted: int = 0


def chunk_partitions(
    lakehouse: Lakehouse, bronze_table: str, partitions: Sequence[str], limit: int = CHUNK_ROWS
) -> Iterator[list[str]]:
    """Group consecutive partitions until their bronze rows reach `limit`."""
    sizes = rows_per_partition(lakehouse, bronze_table, list(partitions))
    chunk: list[str] = []
    rows = 0
    for partition in partitions:
        chunk.append(partition)
        rows += sizes.get(partition, 0)
        if rows >= limit:
            yield chunk
            chunk, rows = [], 0
    if chunk:
        yield chunk


def in_arrival_order(partitions: Sequence[str]) -> list[str]:
    """The partitions in position order (`partition_2` before `partition_10`, see `dedupe`).

    The result does not depend on the order (the winning copy of a key is decided inside the
    MERGE), but the cost does: when chunks go in first-arrival order, a later chunk's duplicate
    never beats the silver copy, every MERGE of a backfill is insert-only, and no silver file is
    rewritten (see `plan_merge`). Dagster hands partitions over in the order they were added,
    which for folders named `partition_0`..`partition_199` is not the files' order.
    """
    return sorted(partitions, key=lambda partition: (len(partition), partition))


def in_merge_order(spec: SilverSpec, partitions: Sequence[str]) -> list[str]:
    """The order in which a silver table's chunks are MERGEd: the winning copy of each key
    first, so that no later chunk updates a row an earlier one wrote.

    Reviews keep the first arrival: position order. Metadata keeps the latest copy: reverse
    position order. In position order, every metadata chunk of a backfill updated the ~1% of
    its keys that earlier folders also listed, rows spread over every earlier partition, so its
    MERGE read and rewrote nearly all of silver so far (delta-rs holds each rewritten
    partition's file in memory): memory and time grew with the number of products.
    """
    ordered = in_arrival_order(partitions)
    return ordered[::-1] if spec.dataset in LATEST_FIRST else ordered


def replace_quarantine(
    lakehouse: Lakehouse, spec: SilverSpec, partitions: Sequence[str], rows: pl.DataFrame
) -> None:
    """Make the silver quarantine of these partitions exactly `rows`; no commit if unchanged."""
    dataset = spec.dataset
    scope = pl.col("_partition").is_in(partitions)
    existing = lakehouse.read(spec.quarantine_table, where=scope, schema=SILVER_QUARANTINE_SCHEMA)
    new = rows.select(pl.lit(dataset).alias("dataset"), pl.all()).cast(
        dict(SILVER_QUARANTINE_SCHEMA)  # type: ignore[arg-type]
    )
    order = ["_source_file", "_line"]
    if existing.height == new.height and existing.sort(order).equals(new.sort(order)):
        return
    lakehouse.overwrite_where(
        spec.quarantine_table,
        new,
        f"dataset = {sql_string(dataset)} AND {in_list('_partition', partitions)}",
    )


@dataclass(frozen=True)
class PreparedChunk:
    """A chunk's bronze rows typed, split and deduplicated: everything that reads only bronze."""

    partitions: list[str]
    bronze_rows: int
    typed_rows: int
    winners: pl.DataFrame
    quarantine: pl.DataFrame


def prepare_chunk(lakehouse: Lakehouse, spec: SilverSpec, partitions: list[str]) -> PreparedChunk:
    bronze = lakehouse.read(spec.bronze_table, where=pl.col("_partition").is_in(partitions))
    typed, quarantine = spec.split(bronze)
    return PreparedChunk(partitions, bronze.height, typed.height, spec.dedupe(typed), quarantine)


def surviving_copies(
    lakehouse: Lakehouse, spec: SilverSpec, partitions: list[str], winners: pl.DataFrame
) -> pl.DataFrame:
    """The best valid copy, held by a folder outside `partitions`, of every key whose silver row
    these folders own but no longer hold (a re-ingested file withdrew it).

    Deleting such a row would lose a valid key that another folder still has, and nothing
    re-runs that folder; its copy is promoted in the same MERGE instead. Withdrawn keys are few,
    so their copies are looked up in bronze by key (only the lookup columns are scanned).
    """
    owned = lakehouse.read(
        spec.silver_table,
        columns=list(dict.fromkeys([spec.key, *spec.lookup])),
        where=pl.col("_partition").is_in(partitions),
    )
    withdrawn = owned.join(winners.select(spec.key), on=spec.key, how="anti")
    if withdrawn.is_empty():
        return winners.head(0)
    scan = lakehouse.scan(spec.bronze_table)
    assert scan is not None
    located = pl.lit(True)
    for column in spec.lookup:
        located = located & pl.col(column).str.strip_chars().is_in(withdrawn[column].implode())
    candidates = scan.filter(~pl.col("_partition").is_in(partitions) & located).collect()
    typed, _ = spec.split(candidates)  # invalid copies are quarantined by their own folder's run
    survivors = typed.filter(pl.col(spec.key).is_in(withdrawn[spec.key].implode()))
    return spec.dedupe(survivors)


def apply_chunk(lakehouse: Lakehouse, spec: SilverSpec, chunk: PreparedChunk) -> SilverOutcome:
    """Bring silver in line with bronze for the chunk's partitions, in one MERGE: the chunk's
    winners, and the surviving copies (from other folders) of keys the chunk withdrew."""
    partitions = chunk.partitions
    promoted = (
        surviving_copies(lakehouse, spec, partitions, chunk.winners)
        if lakehouse.exists(spec.silver_table)
        else chunk.winners.head(0)
    )
    source = pl.concat([chunk.winners, promoted]) if promoted.height else chunk.winners
    ensure_table(lakehouse, spec.quarantine_table, arrow_schema(SILVER_QUARANTINE_SCHEMA))
    owned = in_list("t._partition", partitions)
    changed = (
        "t._source_file <> s._source_file OR t._line <> s._line OR t._ingested_at <> s._ingested_at"
    )
    metrics = lakehouse.merge(
        spec.silver_table,
        source,
        keys=[spec.key],
        update_when=f"({owned} AND ({changed})) OR {spec.wins}",
        delete_unmatched_when=owned,
        partition_by=SILVER_PARTITION_BY,
        prune_by=SILVER_PARTITION_BY[0],
        lookup_keys=[spec.lookup_key] if spec.lookup_key else None,
    )
    # Silver is committed, its quarantine is not: the re-run's MERGE is a no-op and the
    # quarantine is written then (the reconciliation check fails until it is).
    crash_point(f"silver.after_merge:{spec.silver_table}")
    replace_quarantine(lakehouse, spec, partitions, chunk.quarantine)
    owned_rows = lakehouse.count(spec.silver_table, pl.col("_partition").is_in(partitions))
    return SilverOutcome(
        bronze_rows=chunk.bronze_rows,
        quarantined=chunk.quarantine.height,
        duplicates=chunk.typed_rows - owned_rows,
        owned_rows=owned_rows,
        inserted=metrics.get("num_target_rows_inserted", 0),
        updated=metrics.get("num_target_rows_updated", 0),
        deleted=metrics.get("num_target_rows_deleted", 0),
        promoted=promoted.height,
    )


def refresh_partitions(
    lakehouse: Lakehouse, spec: SilverSpec, partitions: Sequence[str]
) -> Iterator[tuple[list[str], SilverOutcome]]:
    """Refresh silver chunk by chunk (yielding each chunk's partitions and outcome),
    preparing the next chunk while this one commits.

    Preparing reads only bronze, so it cannot depend on the commit running beside it; the two
    overlap on the machine's cores (Polars, DuckDB and delta-rs release the GIL), at the cost of
    holding one more prepared chunk (`spec.chunk_rows` rows) in memory.
    """
    lakehouse.migrate(spec.silver_table, SILVER_PARTITION_BY, spec.derived)
    order = in_merge_order(spec, partitions)
    chunks = list(chunk_partitions(lakehouse, spec.bronze_table, order, spec.chunk_rows))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="silver-prepare") as pool:
        upcoming = pool.submit(prepare_chunk, lakehouse, spec, chunks[0]) if chunks else None
        for index in range(len(chunks)):
            assert upcoming is not None
            prepared = upcoming.result()
            if index + 1 < len(chunks):
                upcoming = pool.submit(prepare_chunk, lakehouse, spec, chunks[index + 1])
            yield prepared.partitions, apply_chunk(lakehouse, spec, prepared)
            del prepared
