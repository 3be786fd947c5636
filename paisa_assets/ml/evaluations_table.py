"""A model's evaluations table: every trained version, its test metrics and the champion flag.

MLflow is where a data scientist looks; these tables are where the dashboard and SQL users look,
so a model's figures are queryable beside the data it was trained on. Each model asset writes
its own table (`gold.sentiment_model_evaluations`, `gold.recommender_evaluations`; the warehouse
view `gold.model_evaluations` shows both) through `record_evaluation`, which also re-flags the
champion among that model's versions.
"""

import datetime as dt
import json
from typing import Any

import polars as pl

from paisa_assets.lake_views import arrow_schema, ensure_table
from paisa_assets.resources.lakehouse import Lakehouse

MODEL_EVALUATIONS_SCHEMA = {
    "model": pl.String,
    "version": pl.Int64,
    "run_id": pl.String,
    "trained_at": pl.Datetime("us", "UTC"),
    "is_champion": pl.Boolean,
    "metrics": pl.String,
    "details": pl.String,
}


def record_evaluation(
    lakehouse: Lakehouse,
    table: str,
    *,
    model: str,
    version: int,
    run_id: str,
    champion_version: int | None,
    metrics: dict[str, float],
    details: dict[str, Any],
) -> None:
    """Add this version's row and move the champion flag to `champion_version`."""
    new = pl.DataFrame(
        {
            "model": [model],
            "version": [version],
            "run_id": [run_id],
            "trained_at": [dt.datetime.now(dt.UTC)],
            "is_champion": [False],
            "metrics": [json.dumps(metrics, sort_keys=True)],
            "details": [json.dumps(details, sort_keys=True)],
        },
        schema=MODEL_EVALUATIONS_SCHEMA,
    )
    ensure_table(lakehouse, table, arrow_schema(MODEL_EVALUATIONS_SCHEMA))
    earlier = lakehouse.read(table, where=pl.col("model") == model)
    rows = pl.concat([earlier.select(new.columns).cast(new.schema), new])
    rows = rows.with_columns(is_champion=pl.col("version") == (champion_version or -1))
    lakehouse.merge(table, rows, keys=["model", "version"])
