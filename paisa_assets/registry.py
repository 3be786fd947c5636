"""The registry: every dataset and every Delta table of the lakehouse, declared once.

A table's entry says what a row is, its columns (type and meaning), its key, how it is
partitioned, which asset writes it, who owns it and its code version. From it come the Dagster
asset specs' descriptions, column schemas (the UI's Description cells), owners, `layer` tags
and code versions (`asset_specs`), the partitions and job selections of each dataset
(`partitions`, `jobs`), the dashboard's column types and `docs/table_contracts.md`
(`python -m paisa_assets.table_contracts`). The transforms keep their Polars schemas beside the
code that builds the rows; tests hold both, and the tables on disk, to this registry.

No Dagster import here: the transforms and the docs generator read it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from paisa_assets import tables as t

STRING = pl.String()
INT32 = pl.Int32()
INT64 = pl.Int64()
FLOAT64 = pl.Float64()
BOOLEAN = pl.Boolean()
DATE = pl.Date()
TIMESTAMP = pl.Datetime("us", "UTC")
STRINGS = pl.List(pl.String())

DATA_ENGINEERING = "team:data-engineering"
ML = "team:ml"


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    description: str


@dataclass(frozen=True)
class Table:
    """One Delta table (`layer.name`) and its one writer."""

    name: str
    description: str  # what a row is
    columns: tuple[Column, ...]
    writer: str  # the Dagster op (asset or multi-asset) that writes it
    key: tuple[str, ...] = ()
    owner: str = DATA_ENGINEERING
    group: str = ""  # Dagster asset group; the layer when empty
    partitioned_by: str = ""  # the dataset whose landing folders partition it
    # Delta (physical) partition columns: files are laid out by their values, so a write scoped
    # to a few values (a landing folder's MERGE, a file's overwrite) reads and rewrites those.
    delta_partition_by: tuple[str, ...] = ()
    # Bump when the writer changes what it writes for the same input: Dagster then shows the
    # table as changed code, so a user knows to rebuild it.
    code_version: str = "1"
    notes: str = ""  # contract rules (markdown), for docs/table_contracts.md

    @property
    def layer(self) -> str:
        return self.name.split(".")[0]

    @property
    def asset_group(self) -> str:
        return self.group or self.layer

    def polars_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Dataset:
    """A source of rows: a landing-zone dataset (one partition per landing folder) or the
    stream. `tables` are every table its ingestion writes, in order."""

    name: str
    description: str
    tables: tuple[str, ...]
    job: str
    partitions: str = ""  # name of the dynamic partitions (landing folders); "" for the stream
    # (warn, fail) hours without a new materialization: the stream's tables are expected fresh
    # (the stream sensor runs whenever events arrive), so a long gap means it stalled.
    freshness: tuple[float, float] | None = None


@dataclass(frozen=True)
class OtherAsset:
    """An asset that is no Delta table (a model, the warehouse file, the dashboard)."""

    key: str
    layer: str
    owner: str = DATA_ENGINEERING
    code_version: str = "1"


def columns(*specs: tuple[str, pl.DataType, str]) -> tuple[Column, ...]:
    return tuple(Column(name, dtype, description) for name, dtype, description in specs)


def as_strings(cols: Iterable[Column]) -> tuple[Column, ...]:
    """The same columns as bronze holds them: the value as sent (strings)."""
    return tuple(Column(c.name, STRING, c.description) for c in cols)


# --- Column groups shared by several tables --------------------------------------------------

REVIEW_DATA = columns(
    ("asin", STRING, "Product id (ASIN)."),
    ("reviewerID", STRING, "Reviewer id."),
    ("reviewerName", STRING, "Reviewer's display name."),
    ("overall", STRING, 'Star rating, e.g. "5.0".'),
    ("reviewText", STRING, "Review text."),
    ("summary", STRING, "Review headline."),
    ("unixReviewTime", STRING, "Review time in Unix seconds."),
    ("reviewTime", STRING, 'Review date as text, "MM D, YYYY".'),
    ("verified", STRING, 'Verified purchase, "true" or "false".'),
    ("vote", STRING, 'Helpful votes, e.g. "1,234".'),
    ("style", STRING, 'Product variant, a JSON object (e.g. {"Size:": " Large"}).'),
    ("image", STRING, "Images the reviewer posted, a JSON array of URLs."),
)
METADATA_DATA = columns(
    ("asin", STRING, "Product id (ASIN)."),
    ("title", STRING, "Product title (may hold HTML)."),
    ("brand", STRING, "Brand (may hold HTML)."),
    ("main_cat", STRING, "Main category (may hold HTML or an image tag)."),
    ("category", STRING, "Category path, a JSON array of strings."),
    ("price", STRING, 'Listed price as text: "$12.99", a range "$5.00 - $9.00", or junk.'),
    ("also_buy", STRING, "ASINs also bought, a JSON array."),
    ("also_view", STRING, "ASINs also viewed, a JSON array."),
    ("rank", STRING, 'Sales rank as text, e.g. "1,234 in Toys & Games (".'),
    ("description", STRING, "Description paragraphs, a JSON array."),
    ("feature", STRING, "Feature bullets, a JSON array."),
    ("image", STRING, "Image URLs, a JSON array."),
    ("details", STRING, "Product details, a JSON object."),
    ("date", STRING, "Date first available, as text."),
    ("similar_item", STRING, "Similar-items table (HTML)."),
    ("tech1", STRING, "Technical details table 1 (HTML)."),
    ("tech2", STRING, "Technical details table 2 (HTML)."),
    ("fit", STRING, "Fit information (HTML)."),
)
RESCUED = columns(
    ("_rescued_data", STRING, "JSON object of the fields not in the contract; null when none."),
)
BATCH_LINEAGE = columns(
    ("_partition", STRING, 'Landing folder, e.g. "partition_3" (the Dagster partition).'),
    ("_source_file", STRING, "Path of the landing file, relative to the landing root."),
    ("_line", INT64, "1-based line number in the decompressed file."),
    ("_ingested_at", TIMESTAMP, "When bronze ingested the file."),
)
STREAM_ADDRESS = columns(
    ("_partition", STRING, "Event Hubs partition id."),
    (
        "_source_file",
        STRING,
        "The partition's address, eventhub://<source_id>/partitions/<partition id>.",
    ),
    ("_line", INT64, "The event's sequence number."),
)
EVENT_KEY = columns(
    ("source_id", STRING, "Which hub: eventhubs:<namespace>/<hub>@<created> or local:<id>/<hub>."),
    ("partition_id", STRING, "Event Hubs partition id."),
    ("sequence_number", INT64, "The event's sequence number in its partition."),
)
SILVER_REVIEW_DATA = columns(
    ("review_id", STRING, "blake2b-64 hex of reviewerID + \\x1f + asin: one review per pair."),
    ("asin", STRING, "Product id (ASIN), trimmed."),
    ("reviewerID", STRING, "Reviewer id, trimmed."),
    ("reviewerName", STRING, "Reviewer's display name."),
    ("overall", INT32, "Star rating, a whole number 1..5."),
    ("reviewText", STRING, "Review text."),
    ("summary", STRING, "Review headline."),
    ("unixReviewTime", INT64, "Review time in Unix seconds."),
    ("reviewTime", STRING, "Review date as sent (raw)."),
    ("review_date", DATE, "From unixReviewTime, else reviewTime parsed, else null."),
    ("verified", BOOLEAN, "Verified purchase."),
    ("vote", INT64, 'Helpful votes ("1,234" -> 1234; absent -> null).'),
    ("style", STRING, "Product variant, a normalised JSON object."),
    ("image", STRINGS, "Image URLs the reviewer posted."),
)
REVIEW_KEY_COLUMNS = columns(
    (
        "_review_key",
        INT64,
        "review_id's 64 bits as an integer (top bit flipped, so it sorts as review_id): "
        "what MERGE plans and key checks look keys up by.",
    ),
)
BRONZE_QUARANTINE_COLUMNS = columns(
    ("dataset", STRING, "The dataset the row came from (eh_streaming for stream events)."),
    ("_partition", STRING, "Landing folder (or Event Hubs partition)."),
    ("_source_file", STRING, "Landing file (or the event's partition address)."),
    ("_line", INT64, "Line number (or sequence number); null when the whole file is unreadable."),
    ("raw", STRING, "The line as read (an event body's first 10,000 characters)."),
    ("reason", STRING, "Why bronze could not store it."),
    ("_ingested_at", TIMESTAMP, "When it was quarantined."),
)
SILVER_QUARANTINE_COLUMNS = columns(
    ("dataset", STRING, "The dataset the row came from."),
    ("_partition", STRING, "Landing folder (or Event Hubs partition) of the bronze row."),
    ("_source_file", STRING, "Landing file (or partition address) of the bronze row."),
    ("_line", INT64, "Line (or sequence number) of the bronze row."),
    ("reason", STRING, 'Every contract violation of the row, joined by "; ".'),
    ("record", STRING, "The bronze data columns of the row, a JSON object."),
)
MANIFEST_COLUMNS = columns(
    ("dataset", STRING, "The landing dataset."),
    ("_partition", STRING, "Landing folder of the file."),
    ("_source_file", STRING, "Path of the file, relative to the landing root (the key)."),
    ("fingerprint", STRING, "Size, modification time and change time: what says it changed."),
    ("size", INT64, "Compressed size in bytes."),
    ("modified", STRING, "Modification time (ETag on Azure)."),
    ("rows", INT64, "Rows written to bronze from the file."),
    ("quarantined", INT64, "Lines of the file quarantined."),
    ("_ingested_at", TIMESTAMP, "When the file was ingested."),
)
EVALUATION_COLUMNS = columns(
    ("model", STRING, "Registered MLflow model name."),
    ("version", INT64, "Registered model version."),
    ("run_id", STRING, "MLflow run that trained it."),
    ("trained_at", TIMESTAMP, "When it was trained."),
    ("is_champion", BOOLEAN, "Whether it holds the `champion` alias."),
    ("metrics", STRING, "Test metrics, a JSON object."),
    ("details", STRING, "Curves, confusion matrix, parameters and the promotion decision (JSON)."),
)

# --- Contract notes (docs/table_contracts.md) --------------------------------------------------

BRONZE_REVIEWS_NOTES = """\
Every data column holds the value exactly as it arrived: strings as-is, numbers, booleans,
objects and arrays as their JSON text (overall "5.0", verified "true", style
'{"Size:": " Large"}', image '["https://..."]').
Key fields must be JSON strings: a line whose asin or reviewerID is a number, boolean, object or
array goes to bronze.amazon_reviews_quarantine ("asin is not a JSON string: a JSON number"; both
keys' reasons joined with "; "). Null, missing and blank keys are silver's to judge ("missing
asin")."""
SILVER_REVIEWS_NOTES = """\
Duplicates: the copy at the first position wins. Position = (_partition, then the file name of
_source_file, then _line), each name compared by its length, then its text (partition_2 before
partition_10); never the ingestion time or the run.

Contract violations go to silver.amazon_reviews_quarantine (reason text in parentheses):
asin null/blank ("missing asin"); reviewerID null/blank ("missing reviewerID"); overall null
("missing overall"); overall not a number ("overall is not a number: <value>"); overall not a
whole number 1..5 ("overall out of range: <value>"); verified present but not true/false
("verified is not a boolean: <value>"); vote present but not an integer with optional thousands
separators ("vote is not an integer: <value>"); style present but not a JSON object ("style is
not a JSON object"); image present but not a JSON array of strings ("image is not a JSON array of
strings"); unixReviewTime present but not an integer ("unixReviewTime is not an integer:
<value>"). Several violations: reasons joined with "; ".

Lakes written before `_review_key` existed gain it in the next silver run: a one-time rewrite
of the table (every row, one commit), as for the change to partitioning by `_partition`."""
SILVER_METADATA_NOTES = """\
Duplicates: the copy at the last position wins (position as for reviews: a later folder holds a
newer snapshot of the catalogue).
Contract violations go to silver.amazon_metadata_quarantine: asin null/blank ("missing asin"); a
list field present but not a JSON array of strings ("<field> is not a JSON array of strings")."""
EH_STREAMING_NOTES = """\
An event's identity is (source_id, partition_id, sequence_number). `source_id` names the
sequence-number space: `eventhubs:<namespace host>/<hub>@<created_at>` for Event Hubs (a hub
deleted and created again, or an in-memory emulator restarted, gets a new one) or
`local:<uuid>/<hub>` for the local event log (the uuid is drawn once per log folder and kept in
its `source.id` file). Switching `PAISA_EVENTHUB_CONNECTION_STRING` therefore never makes a new
event look like one already held. Lakes written before `source_id` existed are migrated by the
first streaming run that meets them.

Progress: every sequence number from 0 to a partition's last enqueued one is held here, expired
in the hub before it was read (below the hub's `beginning_sequence_number`), fetched by a
streaming run in flight, or not requested yet; the `reconciles_with_hub` asset check counts each
and fails, naming the ranges, if anything else (a hole) exists."""
REVIEWS_STREAMING_NOTES = """\
Stream lineage columns follow the batch ones: `_partition` is the hub partition, `_source_file`
the partition's address `eventhub://<source_id>/partitions/<id>`, `_line` the sequence number, so
quarantine rows (keyed by `_source_file`, `_line`) name the event.
Other events go to bronze.reviews_streaming_quarantine (dataset "eh_streaming"): "body is not
valid UTF-8"; "body is not valid JSON: <parser message>"; "body is not a JSON object but a JSON
<type>"; "missing required field(s): <asin, reviewerID, overall>"; "nested deeper than bronze can
store as JSON text (254 levels): <message>"."""
SILVER_STREAM_NOTES = """\
Same typing, contract and quarantine reasons as silver.amazon_reviews (violations go to
silver.reviews_streaming_quarantine, dataset "reviews_streaming"). review_date is the enqueued day
when the event has no review time (the real stream has none). The earliest enqueued copy of a
review wins; ties on enqueued_time go to the smaller `_source_file`, then `_line`."""
DECIDED_NOTES = """\
Silver's pending work is bronze.reviews_streaming minus this table, so each event is decided (and
counted in the run's `rows_in` metadata) once, not once per run. It is written after silver and
its quarantine: a crash in between makes the next run decide those events again, harmlessly."""
QUARANTINE_NOTES = """\
The views `bronze.quarantine` and `silver.quarantine` (warehouse, dashboard) are the union of a
layer's quarantine tables. Lakes written when they were shared tables migrate on the first write
of each new table (see `paisa_assets/lake_views.py`)."""

# --- Tables -------------------------------------------------------------------------------------


def _bronze_landing(
    name: str, dataset: str, data: tuple[Column, ...], description: str, notes: str = ""
) -> Table:
    return Table(
        name,
        description,
        (*as_strings(data), *RESCUED, BATCH_LINEAGE[2], *BATCH_LINEAGE[:2], BATCH_LINEAGE[3]),
        writer=name.replace(".", "__"),
        key=("_source_file", "_line"),
        partitioned_by=dataset,
        delta_partition_by=("_partition",),
        notes=notes,
    )


def _bronze_side(main: str, dataset: str) -> tuple[Table, Table]:
    writer = main.replace(".", "__")
    return (
        Table(
            f"{main}_quarantine",
            f"One row per line (or unreadable file) of {dataset} that bronze could not store.",
            BRONZE_QUARANTINE_COLUMNS,
            writer=writer,
            key=("_source_file", "_line"),
            partitioned_by=dataset,
            notes=QUARANTINE_NOTES,
        ),
        Table(
            f"{main}_ingested_files",
            f"One row per ingested landing file of {dataset}: a file whose fingerprint is "
            "recorded here is skipped, a changed one replaces its own rows.",
            MANIFEST_COLUMNS,
            writer=writer,
            key=("_source_file",),
            partitioned_by=dataset,
            notes="Written after the data and the quarantine: a crash in between only means "
            "the files are ingested again (the overwrite is keyed by file).",
        ),
    )


def _silver_quarantine(main: str, dataset: str, partitioned: bool) -> Table:
    return Table(
        f"{main}_quarantine",
        f"One row per bronze row that breaks the contract of {main}.",
        SILVER_QUARANTINE_COLUMNS,
        writer=main.replace(".", "__"),
        key=("_source_file", "_line"),
        partitioned_by=dataset if partitioned else "",
        notes=QUARANTINE_NOTES,
    )


REVIEWS_DATASET = "amazon_reviews"
METADATA_DATASET = "amazon_metadata"
STREAM_DATASET = "reviews_streaming"

_TABLES: list[Table] = [
    _bronze_landing(
        t.BRONZE_REVIEWS,
        REVIEWS_DATASET,
        REVIEW_DATA,
        "One row per JSON line of the review files in the landing zone, every value as it "
        "arrived (strings; other JSON values as JSON text), unknown fields in _rescued_data. "
        "Bad lines go to bronze.amazon_reviews_quarantine.",
        BRONZE_REVIEWS_NOTES,
    ),
    _bronze_landing(
        t.BRONZE_METADATA,
        METADATA_DATASET,
        METADATA_DATA,
        "One row per JSON line of the product metadata files, every value as it arrived, "
        "unknown fields in _rescued_data. Bad lines go to bronze.amazon_metadata_quarantine.",
    ),
    *_bronze_side(t.BRONZE_REVIEWS, REVIEWS_DATASET),
    *_bronze_side(t.BRONZE_METADATA, METADATA_DATASET),
    Table(
        t.BRONZE_EH_STREAMING,
        "One row per Event Hubs event (MERGE on the key, insert only).",
        (
            *EVENT_KEY,
            *columns(
                ("offset", STRING, "The event's offset (unique only inside a partition)."),
                ("enqueued_time", TIMESTAMP, "When the hub enqueued the event."),
                ("partition_key", STRING, "The sender's partition key; null when none."),
                ("properties", STRING, "Application properties, a JSON object of text values."),
                ("body", STRING, "The body as UTF-8 text (invalid bytes escaped as \\xNN)."),
                ("body_is_utf8", BOOLEAN, "Whether the body was valid UTF-8."),
                ("_ingested_at", TIMESTAMP, "When bronze stored the event."),
            ),
        ),
        writer="bronze__eh_streaming",
        key=("source_id", "partition_id", "sequence_number"),
        delta_partition_by=("partition_id",),
        notes=EH_STREAMING_NOTES,
    ),
    Table(
        t.BRONZE_REVIEWS_STREAMING,
        "One row per event whose body is a JSON review with asin, reviewerID and overall, "
        "every value as sent (MERGE on the event key).",
        (
            *as_strings(REVIEW_DATA),
            *columns(
                ("internal_partition", STRING, "The sender's partition field, as sent."),
                ("partition_number", STRING, "The sender's partition number, as sent."),
            ),
            *RESCUED,
            *EVENT_KEY,
            Column("enqueued_time", TIMESTAMP, "When the hub enqueued the event."),
            *STREAM_ADDRESS,
            Column("_ingested_at", TIMESTAMP, "When bronze stored the event."),
        ),
        writer="bronze__reviews_streaming",
        key=("source_id", "partition_id", "sequence_number"),
        notes=REVIEWS_STREAMING_NOTES,
    ),
    Table(
        t.BRONZE_STREAM_QUARANTINE,
        "One row per event of bronze.eh_streaming that is not a review.",
        BRONZE_QUARANTINE_COLUMNS,
        writer="bronze__reviews_streaming",
        key=("_source_file", "_line"),
        notes=QUARANTINE_NOTES,
    ),
    Table(
        t.SILVER_REVIEWS,
        "One row per review (review_id), typed and deduplicated across landing folders.",
        (*SILVER_REVIEW_DATA, *RESCUED, *BATCH_LINEAGE, *REVIEW_KEY_COLUMNS),
        writer="silver__amazon_reviews",
        key=("review_id",),
        partitioned_by=REVIEWS_DATASET,
        delta_partition_by=("_partition",),
        notes=SILVER_REVIEWS_NOTES,
    ),
    Table(
        t.SILVER_METADATA,
        "One row per product (asin), cleaned and typed; the latest copy wins.",
        (
            *columns(
                ("asin", STRING, "Product id (ASIN), trimmed."),
                ("title", STRING, "HTML stripped, entities unescaped, whitespace collapsed."),
                ("brand", STRING, "Cleaned like title."),
                (
                    "main_cat",
                    STRING,
                    "Cleaned, else the first category; one spelling per category, case aside.",
                ),
                ("category", STRINGS, "Category path, entities unescaped."),
                ("price", FLOAT64, "The listed price, or the midpoint of a range."),
                ("price_min", FLOAT64, "Lower end of a price range (the price when single)."),
                ("price_max", FLOAT64, "Upper end of a price range (the price when single)."),
                ("price_raw", STRING, "The price as listed."),
                ("price_invalid", BOOLEAN, "A price was listed but is not one."),
                ("rank", INT64, "Sales rank."),
                ("rank_category", STRING, "Category of the sales rank."),
                ("rank_raw", STRING, "The rank as listed."),
                ("also_buy", STRINGS, "ASINs also bought."),
                ("also_view", STRINGS, "ASINs also viewed."),
                ("description", STRINGS, "Description paragraphs."),
                ("feature", STRINGS, "Feature bullets."),
                ("image", STRINGS, "Image URLs."),
                ("details", STRING, "Product details, JSON text."),
                ("date", STRING, "Date first available, as listed."),
                ("similar_item", STRING, "Similar-items table (HTML)."),
                ("tech1", STRING, "Technical details table 1 (HTML)."),
                ("tech2", STRING, "Technical details table 2 (HTML)."),
                ("fit", STRING, "Fit information (HTML)."),
            ),
            *RESCUED,
            *BATCH_LINEAGE,
        ),
        writer="silver__amazon_metadata",
        key=("asin",),
        partitioned_by=METADATA_DATASET,
        delta_partition_by=("_partition",),
        notes=SILVER_METADATA_NOTES,
    ),
    _silver_quarantine(t.SILVER_REVIEWS, REVIEWS_DATASET, True),
    _silver_quarantine(t.SILVER_METADATA, METADATA_DATASET, True),
    Table(
        t.SILVER_REVIEWS_STREAMING,
        "One row per stream review (review_id), typed like silver.amazon_reviews.",
        (
            *SILVER_REVIEW_DATA,
            *RESCUED,
            *STREAM_ADDRESS,
            Column("_ingested_at", TIMESTAMP, "When bronze stored the winning event."),
            *EVENT_KEY[1:],
            *columns(
                ("enqueued_time", TIMESTAMP, "When the hub enqueued the winning copy."),
                ("processed_at", TIMESTAMP, "When silver saw it."),
            ),
        ),
        writer="silver__reviews_streaming",
        key=("review_id",),
        notes=SILVER_STREAM_NOTES,
    ),
    _silver_quarantine(t.SILVER_REVIEWS_STREAMING, STREAM_DATASET, False),
    Table(
        t.SILVER_STREAM_DECIDED,
        "One row per stream event silver has decided (MERGE on the event key, insert only).",
        (
            *EVENT_KEY,
            *columns(
                (
                    "outcome",
                    STRING,
                    '"kept" (written to silver), "duplicate" (lost to another copy) or '
                    '"quarantined".',
                ),
                ("decided_at", TIMESTAMP, "When silver decided it."),
            ),
        ),
        writer="silver__reviews_streaming",
        key=("source_id", "partition_id", "sequence_number"),
        notes=DECIDED_NOTES,
    ),
    Table(
        t.GOLD_REVIEWS_ENRICHED,
        "One row per review (review_id), batch and stream (`source`), left-joined to product "
        "metadata (`has_metadata`), renamed for readers. Rebuilt from silver when silver has "
        "changed (the silver versions it was built from are recorded in its commit).",
        (
            *columns(
                ("review_id", STRING, "The review's id (as in silver)."),
                ("source", STRING, '"batch" or "stream".'),
                ("asin", STRING, "Product id (ASIN)."),
                ("reviewer_id", STRING, "Reviewer id (silver's reviewerID)."),
                ("reviewer_name", STRING, "Reviewer's display name."),
                ("rating", INT32, "Star rating 1..5 (silver's overall)."),
                ("summary", STRING, "Review headline."),
                ("review_text", STRING, "Review text, HTML cleaned."),
                ("review_date", DATE, "Review date."),
                ("year", INT32, "Year of review_date."),
                ("month", INT32, "Month of review_date."),
                ("verified", BOOLEAN, "Verified purchase."),
                ("votes", INT64, "Helpful votes."),
                ("style", STRING, "Product variant, JSON text."),
                ("image_count", INT32, "Images the reviewer posted."),
                ("review_words", INT32, "Words in the review text."),
                ("has_metadata", BOOLEAN, "Whether the product has a metadata row."),
                ("title", STRING, "Product title."),
                ("brand", STRING, "Product brand."),
                ("main_cat", STRING, "Main category (Unknown when absent)."),
                ("category", STRINGS, "Category path."),
                ("listed_price", FLOAT64, "The listed price, null when none."),
                (
                    "price",
                    FLOAT64,
                    "The listed price, else the mean of the product's main category, else the "
                    "global mean.",
                ),
                ("price_imputed", BOOLEAN, "Whether price was imputed."),
                ("sales_rank", INT64, "Sales rank."),
                ("sales_rank_category", STRING, "Category of the sales rank."),
                ("_ingested_at", TIMESTAMP, "When bronze ingested the review."),
            ),
            *REVIEW_KEY_COLUMNS,
        ),
        writer="gold__reviews_enriched",
        code_version="3",  # `_review_key`
        key=("review_id",),
    ),
    Table(
        t.GOLD_PRODUCT_SUMMARY,
        "One row per reviewed product.",
        columns(
            ("asin", STRING, "Product id (ASIN)."),
            ("title", STRING, "Product title."),
            ("brand", STRING, "Product brand."),
            ("main_cat", STRING, "Main category."),
            ("price", FLOAT64, "Price (listed or imputed, as in gold.reviews_enriched)."),
            ("price_imputed", BOOLEAN, "Whether price was imputed."),
            ("reviews", INT64, "Reviews of the product."),
            ("avg_rating", FLOAT64, "Average rating."),
            ("verified_share", FLOAT64, "Share of verified-purchase reviews."),
            ("batch_reviews", INT64, "Reviews from landing files."),
            ("stream_reviews", INT64, "Reviews from the stream."),
            ("first_review_date", DATE, "Date of the first review."),
            ("last_review_date", DATE, "Date of the latest review."),
            (
                "verified_known_reviews",
                INT64,
                "Denominator of verified_share (rows with a known value): kept so "
                "that incremental updates stay exact.",
            ),
        ),
        writer="gold__product_summary",
        code_version="2",  # means beside their denominators, updated incrementally
        key=("asin",),
    ),
    Table(
        t.GOLD_CATEGORY_MONTHLY,
        "One row per main category (Unknown when absent), year and month.",
        columns(
            ("main_cat", STRING, "Main category."),
            ("year", INT32, "Year."),
            ("month", INT32, "Month."),
            ("reviews", INT64, "Reviews in the month."),
            ("avg_rating", FLOAT64, "Average rating."),
            ("verified_share", FLOAT64, "Share of verified-purchase reviews."),
            ("avg_price", FLOAT64, "Average price of the reviewed products."),
            (
                "verified_known_reviews",
                INT64,
                "Denominator of verified_share (rows with a known value): kept so "
                "that incremental updates stay exact.",
            ),
            (
                "priced_reviews",
                INT64,
                "Denominator of avg_price (rows with a known value): kept so "
                "that incremental updates stay exact.",
            ),
        ),
        writer="gold__category_monthly",
        code_version="2",  # means beside their denominators, updated incrementally
        key=("main_cat", "year", "month"),
    ),
    Table(
        t.GOLD_KPIS,
        "A single row of headline figures.",
        columns(
            ("reviews", INT64, "Reviews in gold."),
            ("reviewers", INT64, "Distinct reviewers."),
            ("products", INT64, "Distinct reviewed products."),
            ("avg_rating", FLOAT64, "Average rating."),
            ("verified_share", FLOAT64, "Share of verified-purchase reviews."),
            ("batch_reviews", INT64, "Reviews from landing files."),
            ("stream_reviews", INT64, "Reviews from the stream."),
            ("first_review_date", DATE, "Date of the first review."),
            ("last_review_date", DATE, "Date of the latest review."),
            (
                "verified_known_reviews",
                INT64,
                "Denominator of verified_share (rows with a known value): kept so "
                "that incremental updates stay exact.",
            ),
        ),
        writer="gold__kpis",
        code_version="2",  # means beside their denominators, updated incrementally
    ),
    Table(
        t.GOLD_REVIEW_SENTIMENT,
        "One row per gold review: the champion sentiment model's label (negative / neutral / "
        "positive), P(positive) and the MD5 of the scored text. Incremental: only reviews the "
        "current champion has not scored with their current text are scored (an edited review "
        "is rescored); a new champion rescores everything; reviews gone from gold are deleted. "
        "Runs with every gold rebuild; skipped until a champion exists.",
        columns(
            ("review_id", STRING, "The review's id."),
            ("sentiment", STRING, '"negative", "neutral" or "positive".'),
            ("positive_probability", FLOAT64, "P(positive) by the model."),
            ("model_version", INT64, "Version of paisa-sentiment that scored it."),
            ("text_digest", STRING, "MD5 of the scored text: an edited review is scored again."),
            ("scored_at", TIMESTAMP, "When it was scored."),
        ),
        writer="gold__review_sentiment",
        key=("review_id",),
        owner=ML,
        group="ml",
    ),
    Table(
        t.GOLD_RECOMMENDATIONS,
        "Top 10 products per reviewer from the champion version only, never one the reviewer "
        "already reviewed; reviewers with too little history are filled with their categories' "
        "best-sellers (`popular_in_category`), then overall best-sellers (`popular`).",
        columns(
            ("reviewer_id", STRING, "Reviewer id."),
            ("rank", INT32, "1 is the best recommendation."),
            ("asin", STRING, "Recommended product (never one the reviewer reviewed)."),
            ("score", FLOAT64, "The model's score."),
            ("reason", STRING, '"personal", "popular_in_category" or "popular".'),
        ),
        writer="recommender",
        key=("reviewer_id", "rank"),
        owner=ML,
        group="ml",
    ),
    Table(
        t.GOLD_SIMILAR_PRODUCTS,
        "Up to K similar products per product.",
        columns(
            ("asin", STRING, "Product id (ASIN)."),
            ("rank", INT32, "1 is the most similar."),
            ("similar_asin", STRING, "The similar product."),
            ("similarity", FLOAT64, "Shrunk P(a reviewer of asin also reviewed similar_asin)."),
        ),
        writer="recommender",
        key=("asin", "rank"),
        owner=ML,
        group="ml",
    ),
    Table(
        t.GOLD_SENTIMENT_EVALUATIONS,
        "One row per trained version of paisa-sentiment.",
        EVALUATION_COLUMNS,
        writer="sentiment_model",
        key=("model", "version"),
        owner=ML,
        group="ml",
        notes="The warehouse and dashboard view `gold.model_evaluations` is the union of the "
        "models' evaluation tables.",
    ),
    Table(
        t.GOLD_RECOMMENDER_EVALUATIONS,
        "One row per trained version of paisa-recommender.",
        EVALUATION_COLUMNS,
        writer="recommender",
        key=("model", "version"),
        owner=ML,
        group="ml",
    ),
]
TABLES: dict[str, Table] = {table.name: table for table in _TABLES}

DATASETS: dict[str, Dataset] = {
    REVIEWS_DATASET: Dataset(
        REVIEWS_DATASET,
        "Amazon review files (JSON lines, optionally gzip) under amazon_reviews/<folder>/ in "
        "the landing zone; one Dagster partition per folder.",
        (
            t.BRONZE_REVIEWS,
            t.BRONZE_REVIEWS_QUARANTINE,
            t.BRONZE_REVIEWS_FILES,
            t.SILVER_REVIEWS,
            t.SILVER_REVIEWS_QUARANTINE,
        ),
        job="reviews_ingest_job",
        partitions="amazon_reviews_folders",
    ),
    METADATA_DATASET: Dataset(
        METADATA_DATASET,
        "Amazon product metadata files under amazon_metadata/<folder>/ in the landing zone; "
        "one Dagster partition per folder.",
        (
            t.BRONZE_METADATA,
            t.BRONZE_METADATA_QUARANTINE,
            t.BRONZE_METADATA_FILES,
            t.SILVER_METADATA,
            t.SILVER_METADATA_QUARANTINE,
        ),
        job="metadata_ingest_job",
        partitions="amazon_metadata_folders",
    ),
    STREAM_DATASET: Dataset(
        STREAM_DATASET,
        "Review events on Azure Event Hubs (or the local event log), read by sequence range.",
        (
            t.BRONZE_EH_STREAMING,
            t.BRONZE_REVIEWS_STREAMING,
            t.BRONZE_STREAM_QUARANTINE,
            t.SILVER_REVIEWS_STREAMING,
            t.SILVER_STREAM_QUARANTINE,
            t.SILVER_STREAM_DECIDED,
        ),
        job="streaming_job",
        freshness=(1.0, 6.0),
    ),
}
LANDING_DATASETS = tuple(name for name, d in DATASETS.items() if d.partitions)

OTHER_ASSETS: dict[str, OtherAsset] = {
    asset.key: asset
    for asset in (
        OtherAsset("sentiment_model", "ml", ML),
        OtherAsset("recommender", "ml", ML),
        OtherAsset("warehouse/duckdb", "serving"),
        OtherAsset("dashboard", "reporting"),
        OtherAsset("lake_maintenance", "maintenance"),
    )
}


def table(name: str) -> Table:
    return TABLES[name]


def delta_partition_by(*names: str) -> list[str]:
    """The Delta partition columns of the tables `names`, which one code path writes alike."""
    layouts = {TABLES[name].delta_partition_by for name in names}
    if len(layouts) != 1:
        raise ValueError(f"{', '.join(names)} are not partitioned alike: {sorted(layouts)}")
    return list(layouts.pop())


def dataset_of(table_name: str) -> Dataset | None:
    return next((d for d in DATASETS.values() if table_name in d.tables), None)
