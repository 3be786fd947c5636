"""A neutral band for a two-class sentiment model, chosen on validation data.

The classifier learns negative (1-2 stars) against positive (4-5 stars); a review is called
neutral when P(positive) falls between two thresholds. The default band (0.4, 0.6) is an
uncertainty band, not a 3-star detector: on 258 real 3-star reviews it said 31% neutral and 49%
positive. Choosing the band on labelled validation data that includes 3-star reviews makes
"neutral" mean what a 3-star reviewer says, as far as the text allows.
"""

from __future__ import annotations

import numpy as np

NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2
CLASSES = ("negative", "neutral", "positive")


def three_class_labels(ratings: np.ndarray) -> np.ndarray:
    """1-2 stars negative (0), 3 neutral (1), 4-5 positive (2)."""
    ratings = np.asarray(ratings, dtype=np.float64)
    return np.where(ratings <= 2, NEGATIVE, np.where(ratings >= 4, POSITIVE, NEUTRAL))


def classify(probability: np.ndarray, low: float, high: float) -> np.ndarray:
    """negative at or below `low`, positive at or above `high`, neutral in between (the rule
    of `gold.review_sentiment`)."""
    probability = np.asarray(probability, dtype=np.float64)
    return np.where(probability <= low, NEGATIVE, np.where(probability >= high, POSITIVE, NEUTRAL))


def macro_f1(classes: np.ndarray, predicted: np.ndarray) -> float:
    """Three-class macro F1, as `sklearn.metrics.f1_score(..., labels=[0, 1, 2],
    average="macro", zero_division=0)` computes it (2tp / (true + predicted) per class, 0 for a
    class neither holds), without its argument validation: the band search below scores
    hundreds of candidate bands, and sklearn's per-call overhead (~5 ms) was most of a training
    step's CPU on small data."""
    labels = np.arange(len(CLASSES))
    true_counts = np.bincount(classes, minlength=labels.size)[: labels.size]
    predicted_counts = np.bincount(predicted, minlength=labels.size)[: labels.size]
    hits = np.bincount(classes[classes == predicted], minlength=labels.size)[: labels.size]
    denominators = (true_counts + predicted_counts).astype(np.float64)
    scores = np.divide(2.0 * hits, denominators, out=np.zeros(labels.size), where=denominators > 0)
    return float(np.average(scores))


def calibrate_neutral_band(
    probability: np.ndarray, classes: np.ndarray, grid: int = 41
) -> tuple[float, float]:
    """(low, high) maximising three-class macro F1 of `classify` on validation data.

    Thresholds are searched among the validation probabilities themselves, or `grid` of their
    quantiles when there are more (so the search adapts to how confident the model is); ties
    go to the narrowest band, then the lowest `low`, so the choice is deterministic.
    """
    probability = np.asarray(probability, dtype=np.float64)
    classes = np.asarray(classes, dtype=np.int64)
    if probability.shape != classes.shape or probability.size == 0:
        raise ValueError("one class per probability, and at least one of each")
    if np.unique(classes).size < 3:
        raise ValueError("validation data must hold negative, neutral and positive reviews")
    candidates = np.unique(probability)
    if candidates.size > grid:
        candidates = np.unique(
            np.quantile(probability, np.linspace(0, 1, grid), method="inverted_cdf")
        )
    best: tuple[float, float, float, float] | None = None
    for i, low in enumerate(candidates):
        for high in candidates[i:]:
            score = macro_f1(classes, classify(probability, low, high))
            key = (score, -(high - low), -low)
            if best is None or key > best[:3]:
                best = (score, -(high - low), -low, high)
    assert best is not None
    low = -best[2]
    return float(low), float(best[3])


__all__ = ["CLASSES", "calibrate_neutral_band", "classify", "macro_f1", "three_class_labels"]
