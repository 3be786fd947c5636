"""The recommender asset's run config, editable in the launchpad."""

from dagster import Config
from pydantic import Field


class RecommenderConfig(Config):
    k: int = Field(default=10, description="Products per reviewer and per product.")
    min_history: int = Field(
        default=3, description="Reviews a reviewer needs to have the latest one held out."
    )
    neighbours: int = Field(default=50, description="Neighbours kept per product.")
