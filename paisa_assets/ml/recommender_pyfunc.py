"""The recommender as an MLflow pyfunc model, so a registered version can serve requests.

Input: a frame with a `reviewer_id` column (and optionally `main_cat` for reviewers the model
has never seen); output: their top-k products, the same rows as gold.recommendations.
Reviewers unknown to the model get the best-sellers of the given category, else overall.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import polars as pl
from mlflow.pyfunc import PythonModel

from paisa_assets.ml.recommender import (
    CATEGORY,
    RECOMMENDATION_SCHEMA,
    USER,
    PaisaRecommender,
)

K = 10


class RecommenderModel(PythonModel):
    def __init__(self, model: PaisaRecommender, k: int = K) -> None:
        self.model = model
        self.k = k

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        reviewers = pl.Series(USER, [str(r) for r in model_input[USER]], pl.String)
        known = reviewers.is_in(pl.Series(self.model.reviewers))
        frames = [self.model.recommend(self.k, reviewers.filter(known))]
        categories = (
            model_input[CATEGORY].tolist() if CATEGORY in model_input else [None] * len(reviewers)
        )
        for reviewer, category, is_known in zip(
            reviewers.to_list(), categories, known.to_list(), strict=True
        ):
            if not is_known:
                cold = self.model.recommend_for_categories([c for c in [category] if c], self.k)
                cold = cold.with_columns(pl.lit(reviewer).alias(USER))
                frames.append(cold.select(RECOMMENDATION_SCHEMA.names()))
        return pl.concat(frames).to_pandas()
