"""The sentiment assets' run config: what a user may change in the launchpad.

Dagster `Config` classes only; `to_sentiment_config` turns the training choices into the pure
`ml.sentiment.SentimentConfig`, importing the ML code (scikit-learn) only when a run asks for it.
"""

from typing import TYPE_CHECKING, Literal

from dagster import Config
from pydantic import Field

if TYPE_CHECKING:
    from paisa_assets.ml.sentiment import SentimentConfig


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
