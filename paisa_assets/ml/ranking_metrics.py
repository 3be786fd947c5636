"""Offline metrics for top-k recommendations and rating predictions (pure functions, no I/O).

The recommender is judged the way it is used: a reviewer sees a short list, so what matters is
whether the product they really reviewed next is in that list (hit rate) and how high
(NDCG). Coverage guards against the degenerate answer that wins those two on skewed data (show
everybody the same best-sellers), and RMSE judges the rating predictor separately, since a good
ranking says nothing about how close a predicted star rating is.

Lists are given per user, in rank order; relevant items per user are the held-out ones. Items
can be any hashable (ASIN strings in practice).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Sequence

import numpy as np


def _check_users(
    recommended: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int
) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(recommended) != len(relevant):
        raise ValueError(
            f"one recommendation list per user: {len(recommended)} lists for "
            f"{len(relevant)} users with held-out items"
        )
    if not recommended:
        raise ValueError("no users to evaluate")
    if any(len(items) == 0 for items in relevant):
        # A user without held-out items can neither hit nor miss; silently scoring them 0 (or
        # skipping them) would bias the mean, so the caller must leave them out explicitly.
        raise ValueError("every evaluated user needs at least one relevant item")


def user_hits(
    recommended: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int
) -> np.ndarray:
    """Per user, whether any relevant item is among their first `k` recommendations (the
    paired outcomes a significance test compares)."""
    _check_users(recommended, relevant, k)
    hits = np.zeros(len(recommended), dtype=bool)
    for position, (items, wanted) in enumerate(zip(recommended, relevant, strict=True)):
        wanted_set = set(wanted)
        hits[position] = any(item in wanted_set for item in items[:k])
    return hits


def hit_rate_at_k(
    recommended: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int
) -> float:
    """Share of users with at least one relevant item among their first `k` recommendations.

    With one held-out item per user (leave-last-out) this is the probability that the product
    the reviewer actually turned to next was on the list they would have been shown; position
    within the list is deliberately ignored (see `ndcg_at_k` for that).
    """
    return float(user_hits(recommended, relevant, k).mean())


def _discount(rank: int) -> float:
    """Gain of a relevant item at 1-based `rank`: 1/log2(rank + 1), so rank 1 counts fully."""
    return 1.0 / math.log2(rank + 1)


def user_ndcg(
    recommended: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int
) -> np.ndarray:
    """Per user NDCG@k (see `ndcg_at_k`)."""
    _check_users(recommended, relevant, k)
    values = np.empty(len(recommended))
    for position, (items, wanted) in enumerate(zip(recommended, relevant, strict=True)):
        wanted_set = set(wanted)
        seen: set[Hashable] = set()
        dcg = 0.0
        for rank, item in enumerate(items[:k], start=1):
            if item in wanted_set and item not in seen:
                dcg += _discount(rank)
            seen.add(item)
        ideal = sum(_discount(rank) for rank in range(1, min(len(wanted_set), k) + 1))
        values[position] = dcg / ideal
    return values


def ndcg_at_k(
    recommended: Sequence[Sequence[Hashable]], relevant: Sequence[Collection[Hashable]], k: int
) -> float:
    """Mean normalised discounted cumulative gain at `k`, binary relevance.

    A hit near the top of a short list is worth more than one at the bottom, because readers
    stop scrolling; the log2 discount is the standard model of that. Each user's DCG is divided
    by the best achievable one (all their relevant items first, at most `k` of them), so users
    with several held-out items are not worth more than users with one, and a perfect list
    scores 1.0. Duplicate items in a list only count once.
    """
    return float(user_ndcg(recommended, relevant, k).mean())


def catalog_coverage(
    recommended: Iterable[Sequence[Hashable]], catalog_size: int, k: int | None = None
) -> float:
    """Share of the catalog that appears in at least one user's list (first `k` items if set).

    Hit rate rewards popularity on long-tailed data; coverage shows the price paid for it:
    a recommender that only ever shows the same few best-sellers covers almost nothing and
    gives the long tail (most of a marketplace) no exposure.
    """
    if catalog_size < 1:
        raise ValueError(f"catalog_size must be at least 1, got {catalog_size}")
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    distinct: set[Hashable] = set()
    for items in recommended:
        distinct.update(items if k is None else items[:k])
    if len(distinct) > catalog_size:
        raise ValueError(
            f"{len(distinct)} distinct recommended items cannot come from a catalog of "
            f"{catalog_size}"
        )
    return len(distinct) / catalog_size


def rmse(predicted: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray) -> float:
    """Root mean squared error of predicted against actual ratings.

    Squared error punishes a confident 1-star prediction for a 5-star review far more than
    several small misses, which is the failure a reader of predicted ratings notices.
    """
    predicted_array = np.asarray(predicted, dtype=np.float64)
    actual_array = np.asarray(actual, dtype=np.float64)
    if predicted_array.shape != actual_array.shape:
        raise ValueError(
            f"predicted {predicted_array.shape} and actual {actual_array.shape} differ in shape"
        )
    if predicted_array.size == 0:
        raise ValueError("no ratings to compare")
    return float(np.sqrt(np.mean((predicted_array - actual_array) ** 2)))


__all__ = [
    "catalog_coverage",
    "hit_rate_at_k",
    "ndcg_at_k",
    "rmse",
    "user_hits",
    "user_ndcg",
]
