"""The recommender's champion: the interactions it trains on, the quality gate of promotion,
and how a fitted model is logged to and registered in MLflow.
"""

from typing import TYPE_CHECKING

import polars as pl

from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.mlflow_tracking import MlflowTracking, log_json_artifacts
from paisa_assets.tables import (
    GOLD_REVIEWS_ENRICHED,
)

if TYPE_CHECKING:  # scipy and pandas: imported only where a model is trained or logged
    import pandas as pd

    from paisa_assets.ml.recommender import PaisaRecommender, RecommenderEvaluation

RECOMMENDER_MODEL = "paisa-recommender"


def read_interactions(lakehouse: Lakehouse) -> tuple[pl.DataFrame, int]:
    """(usable interactions, rows without a reviewer, product, rating or date)."""
    from paisa_assets.ml.recommender import INTERACTION_COLUMNS

    reviews = lakehouse.read(GOLD_REVIEWS_ENRICHED, columns=list(INTERACTION_COLUMNS))
    usable = reviews.drop_nulls(["reviewer_id", "asin", "rating", "review_date"])
    return usable, reviews.height - usable.height


def quality_gate(evaluation: "RecommenderEvaluation") -> tuple[bool, list[str]]:
    """(passed, reasons it did not): significantly better than popularity (paired tests at
    `SIGNIFICANCE`), not merely a larger figure, and a better rating predictor than the item
    mean. The first version faces the same gate as every later one."""
    reasons = []
    if not evaluation.significantly_beats_popularity():
        reasons.append(
            f"not significantly better than popularity: HR {evaluation.hit_rate:.4f} vs "
            f"{evaluation.popularity_hit_rate:.4f}, McNemar p "
            f"{evaluation.popularity_hit_p_value:.2g} ({evaluation.popularity_hit_wins} wins, "
            f"{evaluation.popularity_hit_losses} losses), NDCG difference 99% interval "
            f"[{evaluation.popularity_ndcg_difference_low:.4f}, "
            f"{evaluation.popularity_ndcg_difference_high:.4f}]"
        )
    if not evaluation.rmse < evaluation.item_mean_rmse:
        reasons.append(
            f"RMSE {evaluation.rmse:.4f} not below the item mean's {evaluation.item_mean_rmse:.4f}"
        )
    return not reasons, reasons


def serving_example(model: "PaisaRecommender") -> "pd.DataFrame":
    """A known reviewer, and a new one who names a category (a cold start)."""
    import pandas as pd

    from paisa_assets.ml.recommender import CATEGORY, USER

    return pd.DataFrame(
        {
            USER: [str(model.reviewers[0]), "a-new-reviewer"],
            CATEGORY: [None, str(model.categories[0]) if model.categories.size else None],
        }
    )


def log_model(
    mlflow_tracking: MlflowTracking,
    model: "PaisaRecommender",
    evaluation: "RecommenderEvaluation",
    k: int,
) -> tuple[str, int]:
    import mlflow
    import mlflow.pyfunc

    from paisa_assets.ml.recommender_pyfunc import RecommenderModel

    with mlflow_tracking.start_run("recommender") as run:
        mlflow.log_params(model.get_params() | {"k": k, "min_history": evaluation.min_history})
        mlflow.log_metrics({name.replace(".", "_"): v for name, v in evaluation.metrics().items()})
        log_json_artifacts({"evaluation": evaluation.as_dict()})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=RecommenderModel(model, k),
            input_example=serving_example(model),
            registered_model_name=RECOMMENDER_MODEL,
            pip_requirements=["numpy", "scipy", "polars", "pandas"],
        )
    return run.info.run_id, int(info.registered_model_version)


def decide_champion(
    mlflow_tracking: MlflowTracking, evaluation: "RecommenderEvaluation", version: int
) -> tuple[bool, int | None, str]:
    """(passed its gate, the champion version after this run, the decision), the decision
    tagged on the version. The alias itself moves only once the tables are written."""
    passed, reasons = quality_gate(evaluation)
    champion = mlflow_tracking.champion(RECOMMENDER_MODEL)
    champion_version = version if passed else (int(champion.version) if champion else None)
    decision = (
        "promoted: significantly better than popularity, RMSE below the item mean"
        if passed
        else f"not promoted ({'; '.join(reasons)}); champion stays "
        + (f"v{champion_version}" if champion_version else "unset")
    )
    mlflow_tracking.tag_version(RECOMMENDER_MODEL, version, {"champion_decision": decision})
    return passed, champion_version, decision
