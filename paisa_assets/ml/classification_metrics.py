"""Binary classification metrics, computed the same way for the model and for its baselines.

Every figure the asset reports is computed here on one held-out test set, so "the model beats
the baselines" compares like with like. A constant scorer (the majority class) gets ROC AUC 0.5
and PR AUC equal to the positive share by definition, not by accident of ties.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    classification_report,
    confusion_matrix,
    f1_score,
    roc_auc_score,
    roc_curve,
)

from paisa_assets.ml.labels import CLASS_NAMES

ROC_POINTS = 200


@dataclass
class ClassifierScores:
    """What one scorer did on the test set: hard labels and a positive-class score."""

    predicted: np.ndarray
    score: np.ndarray


@dataclass
class ClassificationReport:
    metrics: dict[str, float]
    confusion: list[list[int]]
    per_class: dict[str, dict[str, float]]
    roc_curve: dict[str, list[float]] = field(default_factory=dict)


def _thin(values: np.ndarray, points: int) -> list[float]:
    """At most `points` evenly spaced points of a curve (first and last kept) for storage."""
    if values.size <= points:
        return [round(float(v), 6) for v in values]
    index = np.unique(np.linspace(0, values.size - 1, points).round().astype(int))
    return [round(float(v), 6) for v in values[index]]


def classification_report_for(labels: np.ndarray, scores: ClassifierScores) -> ClassificationReport:
    """Accuracy, macro F1, ROC AUC, PR AUC, confusion matrix, per-class report and ROC curve."""
    labels = np.asarray(labels, dtype=np.int8)
    single_class = np.unique(labels).size < 2
    metrics = {
        "accuracy": float(accuracy_score(labels, scores.predicted)),
        "f1_macro": float(f1_score(labels, scores.predicted, average="macro", zero_division=0)),
        "roc_auc": float("nan") if single_class else float(roc_auc_score(labels, scores.score)),
        "pr_auc": float("nan")
        if single_class
        else float(average_precision_score(labels, scores.score)),
    }
    report = classification_report(
        labels,
        scores.predicted,
        labels=[0, 1],
        target_names=list(CLASS_NAMES),
        output_dict=True,
        zero_division=0,
    )
    per_class = {name: {k: float(v) for k, v in report[name].items()} for name in CLASS_NAMES}
    confusion = confusion_matrix(labels, scores.predicted, labels=[0, 1]).tolist()
    curve: dict[str, list[float]] = {}
    if not single_class:
        fpr, tpr, _ = roc_curve(labels, scores.score)
        curve = {"fpr": _thin(fpr, ROC_POINTS), "tpr": _thin(tpr, ROC_POINTS)}
    return ClassificationReport(metrics, confusion, per_class, curve)


def majority_scores(size: int, majority_class: int) -> ClassifierScores:
    """Always the training set's most frequent class, with one constant score."""
    return ClassifierScores(
        predicted=np.full(size, majority_class, dtype=np.int8),
        score=np.full(size, float(majority_class)),
    )


def polarity_scores(polarity: np.ndarray) -> ClassifierScores:
    """TextBlob used directly: positive when polarity is above 0, polarity as the score."""
    return ClassifierScores(predicted=(polarity > 0).astype(np.int8), score=polarity)


def star_scores(ratings: np.ndarray) -> ClassifierScores:
    """The star rating used as a predictor (4-5 positive, the stars as the score): the baseline
    for labels that do not come from the rating, such as TextBlob polarity."""
    ratings = np.asarray(ratings, dtype=np.float64)
    return ClassifierScores(predicted=(ratings >= 4).astype(np.int8), score=ratings)


def roc_auc_or_nan(labels: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC, or NaN when `labels` hold fewer than two classes (it is undefined there)."""
    labels = np.asarray(labels)
    if np.unique(labels).size < 2:
        return float("nan")
    return float(roc_auc_score(labels, score))
