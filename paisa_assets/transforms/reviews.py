"""Type and validate bronze review rows into silver and quarantine rows (docs/table_contracts.md).

Decisions beyond the contract text:

- asin and reviewerID are trimmed (and review_id is computed from the trimmed values), so stray
  whitespace cannot make two ids for one review.
- "Present" means not null: an empty or blank `overall`, `vote`, `verified`, `style`, `image` or
  `unixReviewTime` is a violation, not a missing value. A null `overall` is a violation too
  ("missing overall"): a review without a rating is useless to every consumer of silver.
- `verified` accepts "true"/"false" in any case with surrounding whitespace.
- `overall` must be a whole number: "5", "5.0" and "5e0" are 5; "4.5", "0" and "6.0" are out of
  range; "NaN", "inf" and words are not numbers.
- review_date: the UTC date of unixReviewTime; when that is absent or outside years 1..9999,
  reviewTime parsed as "MM D, YYYY"; else null. An unparseable reviewTime is kept raw, not
  quarantined (the contract has no reason for it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import partial

import polars as pl

from paisa_assets.transforms.dedupe import keep_by_position
from paisa_assets.transforms.json_values import (
    Parsed,
    decode_string_array,
    normalise_json_object,
    parse_boolean,
    parse_decimal,
    parse_integer,
    parse_present,
)
from paisa_assets.transforms.quarantine import (
    check,
    check_with_value,
    keep_raw,
    reasons_column,
    split_by_reason,
)
from paisa_assets.transforms.review_key import REVIEW_KEY, review_key
from paisa_assets.transforms.schemas import (
    BRONZE_REVIEWS_COLUMNS,
    BRONZE_REVIEWS_SCHEMA,
    SILVER_REVIEWS_SCHEMA,
    conform_bronze,
)

REVIEW_ID_SEPARATOR = "\x1f"
REVIEW_ID_BYTES = 8
REVIEW_DATE_FORMAT = "%m %d, %Y"

_SECONDS_PER_DAY = 86_400
_FIRST_DAY = (dt.date(1, 1, 1) - dt.date(1970, 1, 1)).days
_LAST_DAY = (dt.date(9999, 12, 31) - dt.date(1970, 1, 1)).days


def review_id(reviewer_id: str, asin: str) -> str:
    """The stable id of one review: blake2b-64 hex of reviewerID, 0x1F, asin.

    A cryptographic digest, unlike Polars' hash, is the same in every process and library
    version, so ids written to Delta years ago still match recomputed ones.
    """
    key = f"{reviewer_id}{REVIEW_ID_SEPARATOR}{asin}".encode()
    return hashlib.blake2b(key, digest_size=REVIEW_ID_BYTES).hexdigest()


def review_ids(reviewer_ids: pl.Series, asins: pl.Series) -> pl.Series:
    """`review_id` of every row; null where either part is null.

    The only per-row Python left in the review typing (hashlib has no vectorised form); keys are
    handed over as bytes so the loop does nothing but hash.
    """
    keys = pl.select(
        pl.concat_str(
            [reviewer_ids.cast(pl.String), asins.cast(pl.String)], separator=REVIEW_ID_SEPARATOR
        )
    ).to_series()
    blake2b = hashlib.blake2b
    digests = [
        None if key is None else blake2b(key, digest_size=REVIEW_ID_BYTES).hexdigest()
        for key in keys.cast(pl.Binary).to_list()
    ]
    return pl.Series("review_id", digests, dtype=pl.String)


def epoch_seconds_to_date(seconds: pl.Expr) -> pl.Expr:
    """UTC date of epoch seconds; null outside years 1..9999 (not representable in Delta)."""
    days = seconds.floordiv(_SECONDS_PER_DAY)
    return pl.when(days.is_between(_FIRST_DAY, _LAST_DAY)).then(days.cast(pl.Int32)).cast(pl.Date)


def review_time_to_date(review_time: pl.Expr) -> pl.Expr:
    """Date of a reviewTime such as "09 5, 2015"; null when it does not parse."""
    return review_time.str.strip_chars().str.strptime(pl.Date, REVIEW_DATE_FORMAT, strict=False)


def _typed(bronze: pl.DataFrame) -> pl.DataFrame:
    """Bronze rows with every silver column typed and every contract check's reason.

    Each parser runs once: its value and invalid mask are columns (`__parsed_*`, dropped by
    `split_by_reason`) that both the checks and the typed columns read. Written as expressions
    in both places, every regex ran twice (eager frames do not share subexpressions).
    """
    style = normalise_json_object(bronze.get_column("style"))
    image = decode_string_array(bronze.get_column("image"))
    vote = parse_present(bronze.get_column("vote"), partial(parse_integer, thousands=True))
    bronze, (overall, verified, unix_time) = _with_parsed(
        bronze,
        overall=parse_decimal(pl.col("overall")),
        verified=parse_boolean(pl.col("verified")),
        unix_time=parse_integer(pl.col("unixReviewTime")),
    )
    whole = overall.value.is_between(1, 5) & (overall.value.floor() == overall.value)
    asin = bronze.get_column("asin").str.strip_chars()
    reviewer_id = bronze.get_column("reviewerID").str.strip_chars()
    checks = [
        check(asin.fill_null("") == "", "missing asin"),
        check(reviewer_id.fill_null("") == "", "missing reviewerID"),
        check(pl.col("overall").is_null(), "missing overall"),
        check_with_value(overall.invalid, "overall is not a number", pl.col("overall")),
        check_with_value(
            overall.value.is_not_null() & ~whole, "overall out of range", pl.col("overall")
        ),
        check_with_value(verified.invalid, "verified is not a boolean", pl.col("verified")),
        check_with_value(vote.invalid, "vote is not an integer", pl.col("vote")),
        check(style.invalid, "style is not a JSON object"),
        check(image.invalid, "image is not a JSON array of strings"),
        check_with_value(
            unix_time.invalid, "unixReviewTime is not an integer", pl.col("unixReviewTime")
        ),
    ]
    ids = review_ids(reviewer_id, asin)
    return bronze.with_columns(
        *keep_raw(BRONZE_REVIEWS_COLUMNS),
        reasons_column(bronze, checks),
        ids,
        review_key(pl.lit(ids)).alias(REVIEW_KEY),
        asin,
        reviewer_id,
        pl.when(whole).then(overall.value).cast(pl.Int32).alias("overall"),
        unix_time.value.alias("unixReviewTime"),
        pl.coalesce(
            epoch_seconds_to_date(unix_time.value), review_time_to_date(pl.col("reviewTime"))
        ).alias("review_date"),
        verified.value.alias("verified"),
        vote.value.alias("vote"),
        style.value.alias("style"),
        image.value.alias("image"),
    )


def _with_parsed(
    frame: pl.DataFrame, **parsers: Parsed[pl.Expr]
) -> tuple[pl.DataFrame, list[Parsed[pl.Expr]]]:
    """`frame` with each parser's value and invalid mask as columns, and the parsers reading
    those columns instead of parsing again."""
    columns = {}
    read = []
    for name, parsed in parsers.items():
        value, invalid = f"__parsed_{name}", f"__parsed_{name}_invalid"
        columns[value], columns[invalid] = parsed.value, parsed.invalid
        read.append(Parsed(pl.col(value), pl.col(invalid)))
    return frame.with_columns(**columns), read


def split_reviews(bronze: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(silver review rows, quarantine rows) of a bronze reviews frame; no deduplication.

    Silver rows follow SILVER_REVIEWS_SCHEMA and quarantine rows QUARANTINE_SCHEMA exactly,
    whatever the input (including zero rows or all-null columns).
    """
    typed = _typed(conform_bronze(bronze, BRONZE_REVIEWS_SCHEMA))
    return split_by_reason(typed, SILVER_REVIEWS_SCHEMA, BRONZE_REVIEWS_COLUMNS)


def dedupe_reviews(reviews: pl.DataFrame) -> pl.DataFrame:
    """One row per review_id: the first arrival, i.e. the copy at the first position (landing
    folder in numeric order, file, line; see `dedupe`), the rule the silver MERGE applies
    across batches."""
    return keep_by_position(reviews, "review_id")
