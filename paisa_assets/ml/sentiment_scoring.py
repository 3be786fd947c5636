"""Scoring gold reviews with the champion classifier, incrementally: which reviews need a score,
the label from P(positive), and the upserts and deletes of gold.review_sentiment.
"""

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl

from paisa_assets.ml.model_text import TEXT_COLUMN, TEXT_SQL
from paisa_assets.ml.sentiment_champion import NEUTRAL_HIGH_TAG, NEUTRAL_LOW_TAG
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.tables import GOLD_REVIEW_SENTIMENT, GOLD_REVIEWS_ENRICHED

if TYPE_CHECKING:
    from paisa_assets.resources.warehouse import Warehouse

SCORE_BATCH_ROWS = 50_000
MERGE_ROWS = 500_000
REVIEW_SENTIMENT_SCHEMA = {
    "review_id": pl.String,
    "sentiment": pl.String,
    "positive_probability": pl.Float64,
    "model_version": pl.Int64,
    # MD5 of the text that was scored: an edited review (same id, new text) is scored again.
    "text_digest": pl.String,
    "scored_at": pl.Datetime("us", "UTC"),
}


DELETE_BATCH = 1_000


def neutral_band_of(
    band: str, neutral_low: float, neutral_high: float, tags: dict[str, str]
) -> tuple[float, float]:
    """(low, high): the configured band, or the champion's calibrated one when asked for and
    recorded. A change of band applies to reviews scored from then on (the scores keep the
    probability, so a full rescore is a new champion or an emptied table away)."""
    if band == "calibrated" and NEUTRAL_LOW_TAG in tags and NEUTRAL_HIGH_TAG in tags:
        return float(tags[NEUTRAL_LOW_TAG]), float(tags[NEUTRAL_HIGH_TAG])
    return neutral_low, neutral_high


def sentiment_of(probability: pl.Series, low: float, high: float) -> pl.Series:
    """negative / neutral / positive from P(positive): the model is unsure in between."""
    return pl.select(
        pl.when(probability <= low)
        .then(pl.lit("negative"))
        .when(probability >= high)
        .then(pl.lit("positive"))
        .otherwise(pl.lit("neutral"))
        .alias("sentiment")
    ).to_series()


PENDING_SQL = f"""
SELECT r.review_id, md5(r.{TEXT_COLUMN}) AS text_digest, r.{TEXT_COLUMN}
FROM (SELECT review_id, {TEXT_SQL} FROM reviews) r
WHERE NOT EXISTS (
    SELECT 1 FROM scored s
    WHERE s.review_id = r.review_id AND s.model_version = $version
      AND s.text_digest = md5(r.{TEXT_COLUMN})
)
"""


VANISHED_SQL = """
SELECT s.review_id FROM scored s
WHERE NOT EXISTS (SELECT 1 FROM reviews r WHERE r.review_id = s.review_id)
ORDER BY s.review_id
"""


def write_scores(lakehouse: Lakehouse, pending: list[pl.DataFrame]) -> int:
    """Upsert the pending scores by review_id and empty the list."""
    if not pending:
        return 0
    frame = pl.concat(pending)
    pending.clear()
    if frame.is_empty():
        return 0
    lakehouse.merge(GOLD_REVIEW_SENTIMENT, frame, keys=["review_id"])
    return frame.height


def drop_if_without_digests(lakehouse: Lakehouse) -> None:
    """A table written before scores carried their text's digest cannot tell edited reviews
    apart: it is emptied once, so the champion rescores every review."""
    table = lakehouse.delta_table(GOLD_REVIEW_SENTIMENT)
    if table is not None and "text_digest" not in table.schema().to_arrow().names:
        empty = pl.DataFrame(schema=REVIEW_SENTIMENT_SCHEMA)
        lakehouse.replace(GOLD_REVIEW_SENTIMENT, empty)


def delete_reviews(lakehouse: Lakehouse, review_ids: list[str]) -> int:
    """Delete the scores of `review_ids` (reviews no longer in gold), in batches."""
    table = lakehouse.delta_table(GOLD_REVIEW_SENTIMENT)
    if table is None or not review_ids:
        return 0
    for start in range(0, len(review_ids), DELETE_BATCH):
        quoted = ", ".join(
            "'" + value.replace("'", "''") + "'"
            for value in review_ids[start : start + DELETE_BATCH]
        )
        table.delete(f"review_id IN ({quoted})")
    # Each id was read from the table (one row per review_id), so each deleted one row; the
    # delete's own metrics may omit the count.
    return len(review_ids)


def score_reviews(
    lakehouse: Lakehouse,
    warehouse: "Warehouse",
    model: object,
    version: int,
    low: float,
    high: float,
) -> tuple[int, int]:
    """(scored, deleted): scores the reviews `version` has not scored yet (new or edited text) in
    batches, merged every MERGE_ROWS rows so memory stays bounded, then deletes the scores of
    reviews no longer in gold."""
    from paisa_assets.ml.sentiment import positive_probability  # scikit-learn: only here

    drop_if_without_digests(lakehouse)
    tables = {"reviews": GOLD_REVIEWS_ENRICHED, "scored": GOLD_REVIEW_SENTIMENT}
    empty = {GOLD_REVIEW_SENTIMENT: pl.Schema(REVIEW_SENTIMENT_SCHEMA)}
    scored = 0
    pending: list[pl.DataFrame] = []
    with warehouse.session(lakehouse, tables, empty) as con:
        vanished = [row[0] for row in con.sql(VANISHED_SQL).fetchall()]
        reader = con.sql(PENDING_SQL, params={"version": version}).to_arrow_reader(SCORE_BATCH_ROWS)
        for batch in reader:
            frame = pl.from_arrow(batch)
            probability = pl.Series(positive_probability(model, frame[TEXT_COLUMN].to_list()))
            pending.append(
                pl.DataFrame(
                    {
                        "review_id": frame["review_id"],
                        "sentiment": sentiment_of(probability, low, high),
                        "positive_probability": probability,
                        "model_version": version,
                        "text_digest": frame["text_digest"],
                        "scored_at": dt.datetime.now(dt.UTC),
                    },
                    schema=REVIEW_SENTIMENT_SCHEMA,
                )
            )
            if sum(f.height for f in pending) >= MERGE_ROWS:
                scored += write_scores(lakehouse, pending)
    scored += write_scores(lakehouse, pending)
    deleted = delete_reviews(lakehouse, vanished)
    return scored, deleted
