"""Paired significance tests for comparing two models on the same evaluated users or rows.

A model "beating" a baseline by a strict `>` on one test set can be luck: on MovieLens 100K the
former recommender led popularity by 0.9 points of HR@10 with McNemar p = 0.25. Gates therefore
ask for a paired test: both models are scored on the same users, so only the users on which
they disagree carry information (McNemar), and per-user differences of a graded metric are
resampled together (paired bootstrap).

scipy is imported inside `mcnemar`: the recommender asset's module imports `SIGNIFICANCE` from
here, and every Dagster step process imports that module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Level of the paired tests a model must pass to be promoted over its baseline.
SIGNIFICANCE = 0.01


@dataclass(frozen=True)
class McNemar:
    """Paired hit/miss comparison: `wins` users only the model hit, `losses` only the other."""

    wins: int
    losses: int
    p_value: float

    def significantly_better(self, alpha: float) -> bool:
        return self.wins > self.losses and self.p_value < alpha


def mcnemar(model_hits: np.ndarray, other_hits: np.ndarray) -> McNemar:
    """Exact (binomial) two-sided McNemar test on per-user hits of two models.

    The exact form is valid for any number of discordant users, where the chi-square
    approximation is not for small counts; with no discordant user p is 1.
    """
    model_hits = np.asarray(model_hits, dtype=bool)
    other_hits = np.asarray(other_hits, dtype=bool)
    if model_hits.shape != other_hits.shape:
        raise ValueError(f"paired hits differ in shape: {model_hits.shape} {other_hits.shape}")
    wins = int((model_hits & ~other_hits).sum())
    losses = int((~model_hits & other_hits).sum())
    if wins + losses == 0:
        return McNemar(0, 0, 1.0)
    from scipy.stats import binomtest

    p_value = float(binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue)
    return McNemar(wins, losses, p_value)


def paired_bootstrap_interval(
    model_values: np.ndarray,
    other_values: np.ndarray,
    level: float = 0.99,
    resamples: int = 2_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of mean(model - other) over users resampled with replacement.

    Seeded, so a gate decision is reproducible; an interval wholly above 0 means the model is
    better at the (two-sided) `level`.
    """
    differences = np.asarray(model_values, dtype=np.float64) - np.asarray(
        other_values, dtype=np.float64
    )
    if differences.size == 0:
        raise ValueError("no paired values to resample")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    # Resampled in blocks so memory stays bounded for millions of users.
    block = max(1, 20_000_000 // differences.size)
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        draws = rng.integers(0, differences.size, size=(stop - start, differences.size))
        means[start:stop] = differences[draws].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


__all__ = ["McNemar", "mcnemar", "paired_bootstrap_interval"]
