"""Classification metrics over probability matrices: per-class P/R/F1, confusion, PR curves, ECE."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

ECE_BINS = 15


def confusion_matrix(
    y_true: NDArray[np.int64], y_pred: NDArray[np.int64], n_classes: int
) -> NDArray[np.int64]:
    """Counts with true classes in rows and predicted classes in columns."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def classification_report(
    y_true: NDArray[np.int64], probabilities: NDArray[np.float64], classes: Sequence[str]
) -> dict:
    """Per-class precision, recall, F1 and support; macro-F1; accuracy; the confusion matrix.

    Raises
    ------
    ValueError
        The probability matrix does not have one column per class, or no rows.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes):
        raise ValueError(
            f"expected probabilities of shape (n, {len(classes)}), got {probabilities.shape}"
        )
    if len(y_true) == 0:
        raise ValueError("no items to evaluate")
    y_pred = probabilities.argmax(axis=1)
    matrix = confusion_matrix(np.asarray(y_true), y_pred, len(classes))
    true_positive = np.diag(matrix).astype(np.float64)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(
        true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0
    )
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    present = actual > 0
    return {
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(actual[i]),
            }
            for i, name in enumerate(classes)
        },
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "accuracy": float(true_positive.sum() / matrix.sum()),
        "confusion_matrix": matrix.tolist(),
        "n": int(matrix.sum()),
    }


def expected_calibration_error(
    y_true: NDArray[np.int64], probabilities: NDArray[np.float64], bins: int = ECE_BINS
) -> float:
    """Top-label ECE: support-weighted gap between confidence and accuracy in equal-width bins."""
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def reliability_curve(
    y_true: NDArray[np.int64], probabilities: NDArray[np.float64], bins: int = ECE_BINS
) -> dict[str, list[float]]:
    """Per-bin mean confidence, accuracy and count, for a reliability diagram."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    curve: dict[str, list[float]] = {"confidence": [], "accuracy": [], "count": [], "centre": []}
    for b in range(bins):
        in_bin = which == b
        curve["centre"].append(float((edges[b] + edges[b + 1]) / 2))
        curve["count"].append(float(in_bin.sum()))
        curve["confidence"].append(
            float(confidence[in_bin].mean()) if in_bin.any() else float("nan")
        )
        curve["accuracy"].append(float(correct[in_bin].mean()) if in_bin.any() else float("nan"))
    return curve


def precision_recall_curves(
    y_true: NDArray[np.int64], probabilities: NDArray[np.float64], classes: Sequence[str]
) -> dict[str, dict[str, list[float]]]:
    """One-vs-rest precision–recall curve and average precision per class."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    curves = {}
    for i, name in enumerate(classes):
        positive = (y_true == i).astype(int)
        if positive.sum() == 0:
            continue
        precision, recall, _ = precision_recall_curve(positive, probabilities[:, i])
        curves[name] = {
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "average_precision": float(average_precision_score(positive, probabilities[:, i])),
        }
    return curves
