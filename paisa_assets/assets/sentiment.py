"""The sentiment classifier: trained on gold, tracked in MLflow, and gold.review_sentiment.

`sentiment_model` trains a candidate, measures it and its baselines on one time-held-out test
set, registers it as a new version of `paisa-sentiment`, and moves the `champion` alias only when
the candidate reaches the ROC AUC floor, beats its baselines (the first version included) and
beats the current champion on the test rows that neither of them trained on (each version
records its train/test cutoff). A lake too small to train on is reported by the check, not
raised. `gold.review_sentiment` is
always scored by the champion, incrementally: only reviews it has not scored yet are scored.
mlflow, scikit-learn and TextBlob are imported where they are used: every Dagster step process
imports this module, and a bronze step should not pay 1.6 s to load a classifier it never uses.
"""

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from pydantic import Field

from paisa_assets.asset_specs import other_asset, table_asset, table_spec
from paisa_assets.materialization_metadata import table_metadata
from paisa_assets.ml.evaluations_table import record_evaluation
from paisa_assets.ml.model_text import TEXT_COLUMN, TEXT_SQL
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.mlflow_tracking import MlflowTracking, log_json_artifacts
from paisa_assets.resources.warehouse import Warehouse
from paisa_assets.tables import (
    GOLD_REVIEW_SENTIMENT,
    GOLD_REVIEWS_ENRICHED,
    GOLD_SENTIMENT_EVALUATIONS,
    asset_key,
)

if TYPE_CHECKING:
    from paisa_assets.ml.sentiment import SentimentConfig, SentimentEvaluation
    from paisa_assets.ml.sentiment_data import SentimentRun

SENTIMENT_MODEL = "paisa-sentiment"
MIN_ROC_AUC = 0.80
SCORE_BATCH_ROWS = 50_000
MERGE_ROWS = 500_000
# The skops format loads only types it is told to trust: the pipeline's own cleaning function.
TRUSTED_TYPES = ["paisa_assets.ml.text_cleaning.clean_text_column"]
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


class SentimentModelConfig(Config):
    """Training choices, editable in the launchpad; defaults suit the generated sample."""

    label_source: Literal["rating", "textblob"] = Field(
        default="rating",
        description="rating: 1-2 negative, 4-5 positive; textblob: TextBlob polarity sign.",
    )
    neutral_rating: Literal["exclude", "negative", "positive"] = Field(
        default="exclude", description="What a 3-star review counts as with rating labels."
    )
    test_fraction: float = Field(default=0.2, description="Newest share of reviews held out.")
    max_test_rows: int = 100_000
    cv_folds: int = Field(default=3, description="Folds of the hyper-parameter search.")
    c_grid: list[float] = Field(default=[0.3, 1.0, 3.0], description="Logistic regression C.")
    max_features: int = 300_000
    max_in_memory_rows: int = Field(
        default=400_000,
        description="Above this many training reviews, train incrementally on hashed features.",
    )
    seed: int = 42

    def to_sentiment_config(self) -> "SentimentConfig":
        from paisa_assets.ml.labels import LABEL_SOURCES, NEUTRAL_RATINGS
        from paisa_assets.ml.sentiment import SentimentConfig

        return SentimentConfig(
            label_source=LABEL_SOURCES[self.label_source],
            neutral_rating=NEUTRAL_RATINGS[self.neutral_rating],
            test_fraction=self.test_fraction,
            max_test_rows=self.max_test_rows,
            cv_folds=self.cv_folds,
            c_grid=tuple(self.c_grid),
            max_features=self.max_features,
            max_in_memory_rows=self.max_in_memory_rows,
            seed=self.seed,
        )


def _pip_requirements() -> list[str]:
    """Pinned to what trained the model (MLflow's own inference takes seconds per model)."""
    return [f"{name}=={package_version(name)}" for name in ("scikit-learn", "skops", "polars")]


CUTOFF_DATE_TAG, CUTOFF_ID_TAG = "train_cutoff_date", "train_cutoff_review_id"
NEUTRAL_LOW_TAG, NEUTRAL_HIGH_TAG = "neutral_low", "neutral_high"


@dataclass(frozen=True)
class ChampionComparison:
    """Champion and candidate on the candidate's test rows that the champion never trained on."""

    version: int
    rows: int
    champion_roc_auc: float
    candidate_roc_auc: float


def unseen_by_champion(test: pl.DataFrame, tags: dict[str, str]) -> pl.DataFrame:
    """The test rows at or after the champion's own train/test cutoff: rows it never trained
    on, even when older-dated reviews arrived since and moved today's cutoff back. Versions
    without the tags (trained before they existed) are compared on the whole test set."""
    if CUTOFF_DATE_TAG not in tags or CUTOFF_ID_TAG not in tags:
        return test
    date = dt.date.fromisoformat(tags[CUTOFF_DATE_TAG])
    review_id = tags[CUTOFF_ID_TAG]
    return test.filter(
        (pl.col("review_date") > date)
        | ((pl.col("review_date") == date) & (pl.col("review_id") >= review_id))
    )


def compare_with_champion(
    mlflow_tracking: MlflowTracking, run: "SentimentRun"
) -> ChampionComparison | None:
    """The current champion against the candidate on rows neither trained on (None before
    the first champion). ROC AUC is NaN for both when those rows hold one class only."""
    champion = mlflow_tracking.champion(SENTIMENT_MODEL)
    if champion is None:
        return None
    import mlflow.sklearn

    from paisa_assets.ml.classification_metrics import roc_auc_or_nan
    from paisa_assets.ml.sentiment import LABEL, positive_probability

    rows = unseen_by_champion(run.test, dict(champion.tags or {}))
    labels = rows[LABEL].to_numpy()
    texts = rows[TEXT_COLUMN].to_list()
    with mlflow_tracking.activated():
        model = mlflow.sklearn.load_model(f"models:/{SENTIMENT_MODEL}/{champion.version}")
    return ChampionComparison(
        version=int(champion.version),
        rows=rows.height,
        champion_roc_auc=roc_auc_or_nan(labels, positive_probability(model, texts)),
        candidate_roc_auc=roc_auc_or_nan(labels, positive_probability(run.model.pipeline, texts)),
    )


def promotion_decision(
    metrics: dict[str, float], beats_baselines: bool, comparison: ChampionComparison | None
) -> tuple[bool, str]:
    """(promote, why). Every version, the first included, must reach the ROC AUC floor and
    beat its baselines; a later one must also beat the champion on rows neither trained on."""
    auc = metrics["roc_auc"]
    keep = f"champion v{comparison.version} stays" if comparison else "no champion yet"
    if not auc >= MIN_ROC_AUC:
        return False, f"not promoted: ROC AUC {auc:.4f} below the floor {MIN_ROC_AUC}; {keep}"
    if not beats_baselines:
        return False, f"not promoted: ROC AUC {auc:.4f} does not beat every baseline; {keep}"
    if comparison is None:
        return True, f"promoted: first version (ROC AUC {auc:.4f}, floor and baselines met)"
    where = f"on the {comparison.rows} test rows neither model trained on"
    if math.isnan(comparison.champion_roc_auc):
        return False, (
            f"kept champion v{comparison.version}: the {comparison.rows} test rows neither "
            "model trained on do not hold both classes, so the two cannot be compared"
        )
    if comparison.candidate_roc_auc > comparison.champion_roc_auc:
        return True, (
            f"promoted: ROC AUC {comparison.candidate_roc_auc:.4f} beats champion "
            f"v{comparison.version} ({comparison.champion_roc_auc:.4f}) {where}"
        )
    return False, (
        f"kept champion v{comparison.version}: its ROC AUC {comparison.champion_roc_auc:.4f} "
        f"{where} is not beaten by {comparison.candidate_roc_auc:.4f}"
    )


def evaluation_details(evaluation: "SentimentEvaluation") -> dict[str, Any]:
    return {
        "roc_curve": evaluation.model.roc_curve,
        "baseline_roc_curves": {k: r.roc_curve for k, r in evaluation.baselines.items()},
        "confusion_matrix": {
            "labels": ["negative", "positive"],
            "matrix": evaluation.model.confusion,
        },
        "per_class": evaluation.model.per_class,
        "test_period": list(evaluation.test_period),
    }


def log_candidate(
    mlflow_tracking: MlflowTracking, run: "SentimentRun", config: "SentimentConfig"
) -> tuple[str, int]:
    """Log parameters, metrics, curves and the model; register it. Returns (run id, version)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from paisa_assets.ml.sentiment import model_input

    examples = model_input(run.test[TEXT_COLUMN].head(3).to_list())
    signature = infer_signature(examples, run.model.pipeline.predict_proba(examples)[:, 1])
    with mlflow_tracking.start_run("sentiment_model") as mlflow_run:
        mlflow.log_params(
            config.params() | {f"best_{k}": v for k, v in run.model.best_params.items()}
        )
        mlflow.log_params({"mode": run.model.mode, "train_rows": run.model.train_rows})
        band = run.neutral_band.metrics() if run.neutral_band else {}
        mlflow.log_metrics(
            {k.replace(".", "_"): v for k, v in (run.evaluation.metrics() | band).items()}
            | {"cv_roc_auc": run.model.cv_roc_auc}
        )
        log_json_artifacts({"evaluation": evaluation_details(run.evaluation)})
        info = mlflow.sklearn.log_model(
            run.model.pipeline,
            name="model",
            signature=signature,
            input_example=examples,
            registered_model_name=SENTIMENT_MODEL,
            pip_requirements=_pip_requirements(),
            skops_trusted_types=TRUSTED_TYPES,
        )
    return mlflow_run.info.run_id, int(info.registered_model_version)


@multi_asset(
    name="sentiment_model",
    pool="sentiment_model",
    specs=[
        AssetSpec(
            "sentiment_model",
            deps=[asset_key(GOLD_REVIEWS_ENRICHED)],
            group_name="ml",
            kinds={"scikitlearn", "mlflow"},
            **other_asset("sentiment_model"),
            description=(
                "A TF-IDF + logistic regression sentiment classifier (hashing + SGD beyond the "
                "memory budget) trained on gold.reviews_enriched, tested on the newest reviews, "
                f"registered in MLflow as `{SENTIMENT_MODEL}`; alias `champion` moves only to a "
                "version above the floor and its baselines that beats the champion on rows "
                "neither trained on."
            ),
        ),
        table_spec(
            GOLD_SENTIMENT_EVALUATIONS, deps=[asset_key(GOLD_REVIEWS_ENRICHED)], kinds={"delta"}
        ),
    ],
    check_specs=[
        AssetCheckSpec(
            "roc_auc_above_floor_and_baselines",
            asset="sentiment_model",
            description=f"ROC AUC at least {MIN_ROC_AUC} and above both baselines.",
        )
    ],
)
def sentiment_model(
    context: AssetExecutionContext,
    config: SentimentModelConfig,
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
) -> Iterator[MaterializeResult]:
    from paisa_assets.ml.sentiment_data import fit_sentiment

    settings = config.to_sentiment_config()
    try:
        with warehouse.session(lakehouse, {"reviews": GOLD_REVIEWS_ENRICHED}) as con:
            run = fit_sentiment(con, settings)
    except (ValueError, LookupError) as error:
        # Too little data is a state of the lake, not a failure of the run: say why, keep the
        # champion (and its scores), and let the rest of the run go on.
        reason = f"sentiment_model cannot train: {error}"
        context.log.warning(f"{reason}; the champion stays")
        champion = mlflow_tracking.champion(SENTIMENT_MODEL)
        yield MaterializeResult(
            asset_key="sentiment_model",
            metadata={
                "trained": MetadataValue.bool(False),
                "reason": MetadataValue.text(reason),
                "champion_version": MetadataValue.int(int(champion.version) if champion else None),
            },
            check_results=[
                AssetCheckResult(
                    passed=False,
                    severity=AssetCheckSeverity.WARN,
                    description=reason,
                    metadata={"reason": MetadataValue.text(reason)},
                )
            ],
        )
        # Reported unchanged rather than skipped, so the steps after it (the dashboard) run.
        yield MaterializeResult(
            asset_key=asset_key(GOLD_SENTIMENT_EVALUATIONS),
            metadata={"updated": MetadataValue.bool(False), "reason": MetadataValue.text(reason)},
        )
        return
    metrics = run.evaluation.metrics()
    beats_baselines = run.evaluation.beats_baselines()
    comparison = compare_with_champion(mlflow_tracking, run)
    promoted, decision = promotion_decision(metrics, beats_baselines, comparison)
    run_id, version = log_candidate(mlflow_tracking, run, settings)
    champion_version = version if promoted else (comparison.version if comparison else None)
    band_tags = (
        {
            NEUTRAL_LOW_TAG: repr(run.neutral_band.low),
            NEUTRAL_HIGH_TAG: repr(run.neutral_band.high),
        }
        if run.neutral_band
        else {}
    )
    mlflow_tracking.tag_version(
        SENTIMENT_MODEL,
        version,
        {
            "champion_decision": decision,
            CUTOFF_DATE_TAG: run.split.cutoff_date.isoformat(),
            CUTOFF_ID_TAG: run.split.cutoff_review_id,
        }
        | band_tags,
    )
    if promoted:  # last: a scoring run that sees the alias also sees the version's tags
        mlflow_tracking.promote(SENTIMENT_MODEL, version)
    if run.neutral_band:
        metrics |= run.neutral_band.metrics()
    context.log.info(f"{SENTIMENT_MODEL} v{version}: {decision}")
    record_evaluation(
        lakehouse,
        GOLD_SENTIMENT_EVALUATIONS,
        model=SENTIMENT_MODEL,
        version=version,
        run_id=run_id,
        champion_version=champion_version,
        metrics=metrics,
        details=evaluation_details(run.evaluation) | {"decision": decision},
    )
    passed = metrics["roc_auc"] >= MIN_ROC_AUC and beats_baselines
    baselines = {k: r.metrics["roc_auc"] for k, r in run.evaluation.baselines.items()}
    yield MaterializeResult(
        asset_key="sentiment_model",
        metadata={
            **{name: MetadataValue.float(value) for name, value in metrics.items()},
            "model_version": MetadataValue.int(version),
            "champion_version": MetadataValue.int(champion_version),
            "promoted": MetadataValue.bool(promoted),
            "decision": MetadataValue.text(decision),
            "compared_rows": MetadataValue.int(comparison.rows if comparison else None),
            "mlflow_run_id": MetadataValue.text(run_id),
            "mlflow_run": MetadataValue.text(mlflow_tracking.run_link(run_id)),
            "mode": MetadataValue.text(run.model.mode),
            "best_params": MetadataValue.json(run.model.best_params),
            "cv_roc_auc": MetadataValue.float(run.model.cv_roc_auc),
            "train_rows": MetadataValue.int(run.model.train_rows),
            "test_period": MetadataValue.text(" to ".join(run.evaluation.test_period)),
            "confusion_matrix": MetadataValue.json(run.evaluation.model.confusion),
            "three_star_reviews_called": MetadataValue.json(
                run.neutral_band.three_star_called if run.neutral_band else None
            ),
        },
        check_results=[
            AssetCheckResult(
                passed=passed,
                severity=AssetCheckSeverity.ERROR,
                description=decision,
                metadata={
                    "roc_auc": MetadataValue.float(metrics["roc_auc"]),
                    "floor": MetadataValue.float(MIN_ROC_AUC),
                    "baseline_roc_auc": MetadataValue.json(baselines),
                },
            )
        ],
    )
    yield MaterializeResult(
        asset_key=asset_key(GOLD_SENTIMENT_EVALUATIONS),
        metadata=table_metadata(
            lakehouse, GOLD_SENTIMENT_EVALUATIONS, {"written": 1}, model_version=version
        ),
    )


class ReviewSentimentConfig(Config):
    neutral_band: Literal["fixed", "calibrated"] = Field(
        default="fixed",
        description="fixed: neutral_low/neutral_high below; calibrated: the band the champion "
        "chose on held-out reviews with 3 stars as neutral (fixed when it has none).",
    )
    neutral_low: float = Field(default=0.4, description="P(positive) at or below this is negative.")
    neutral_high: float = Field(
        default=0.6, description="P(positive) at or above this is positive; between is neutral."
    )


def neutral_band_of(config: ReviewSentimentConfig, tags: dict[str, str]) -> tuple[float, float]:
    """(low, high): the configured band, or the champion's calibrated one when asked for and
    recorded. A change of band applies to reviews scored from then on (the scores keep the
    probability, so a full rescore is a new champion or an emptied table away)."""
    if config.neutral_band == "calibrated" and NEUTRAL_LOW_TAG in tags and NEUTRAL_HIGH_TAG in tags:
        return float(tags[NEUTRAL_LOW_TAG]), float(tags[NEUTRAL_HIGH_TAG])
    return config.neutral_low, config.neutral_high


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


@asset(
    **table_asset(
        GOLD_REVIEW_SENTIMENT,
        deps=["sentiment_model", asset_key(GOLD_REVIEWS_ENRICHED)],
        kinds={"delta", "mlflow"},
        # Part of gold_job: before the first model is trained the step succeeds without output.
        output_required=False,
    )
)
def gold_review_sentiment(
    context: AssetExecutionContext,
    config: ReviewSentimentConfig,
    lakehouse: Lakehouse,
    warehouse: Warehouse,
    mlflow_tracking: MlflowTracking,
) -> Iterator[MaterializeResult]:
    import mlflow.sklearn

    from paisa_assets.ml.sentiment import positive_probability

    champion = mlflow_tracking.champion(SENTIMENT_MODEL)
    if champion is None:
        context.log.warning(
            f"{GOLD_REVIEW_SENTIMENT} skipped: no `champion` version of {SENTIMENT_MODEL} in "
            f"MLflow ({mlflow_tracking.resolved_tracking_uri()}) yet; materialize sentiment_model"
        )
        return
    version = int(champion.version)
    low, high = neutral_band_of(config, dict(champion.tags or {}))
    context.log.info(f"neutral band ({low:.3f}, {high:.3f}), {config.neutral_band}")
    with mlflow_tracking.activated():
        model = mlflow.sklearn.load_model(f"models:/{SENTIMENT_MODEL}/{version}")
    _drop_if_without_digests(lakehouse)
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
                scored += _write_scores(lakehouse, pending)
    scored += _write_scores(lakehouse, pending)
    deleted = _delete_reviews(lakehouse, vanished)
    context.log.info(
        f"{GOLD_REVIEW_SENTIMENT}: {scored} reviews scored by v{version}, {deleted} rows of "
        "reviews no longer in gold deleted"
    )
    yield MaterializeResult(
        metadata=table_metadata(
            lakehouse,
            GOLD_REVIEW_SENTIMENT,
            {"scored": scored, "deleted": deleted},
            model_version=MetadataValue.int(version),
        )
    )


def _write_scores(lakehouse: Lakehouse, pending: list[pl.DataFrame]) -> int:
    """Upsert the pending scores by review_id and empty the list."""
    if not pending:
        return 0
    frame = pl.concat(pending)
    pending.clear()
    if frame.is_empty():
        return 0
    lakehouse.merge(GOLD_REVIEW_SENTIMENT, frame, keys=["review_id"])
    return frame.height


def _drop_if_without_digests(lakehouse: Lakehouse) -> None:
    """A table written before scores carried their text's digest cannot tell edited reviews
    apart: it is emptied once, so the champion rescores every review."""
    table = lakehouse.delta_table(GOLD_REVIEW_SENTIMENT)
    if table is not None and "text_digest" not in table.schema().to_arrow().names:
        empty = pl.DataFrame(schema=REVIEW_SENTIMENT_SCHEMA)
        lakehouse.replace(GOLD_REVIEW_SENTIMENT, empty)


def _delete_reviews(lakehouse: Lakehouse, review_ids: list[str]) -> int:
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
