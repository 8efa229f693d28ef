"""Agreement between annotators and summaries of active-learning curves."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _labels(values: ArrayLike, what: str) -> NDArray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(f"{what} contains NaN or infinite labels")
    return array


def cohen_kappa(a: ArrayLike, b: ArrayLike) -> float:
    """Cohen's kappa between two annotators' labels of the same items.

    ``(p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement and ``p_e`` the agreement
    expected from each annotator's own label frequencies. Labels may be integers or strings; a
    category only one annotator used still counts.

    Returns
    -------
    float
        Kappa in ``[-1, 1]``; ``nan`` when it is undefined: no items, or both annotators gave
        every item the same single label (``p_e = 1``).

    Raises
    ------
    ValueError
        Arrays not 1-D, of different lengths, or holding NaN.
    """
    first, second = _labels(a, "a"), _labels(b, "b")
    if first.shape != second.shape:
        raise ValueError(f"a has {first.size} labels and b has {second.size}; expected one each")
    n = first.size
    if n == 0:
        return math.nan
    _, codes = np.unique(np.concatenate([first, second]), return_inverse=True)
    codes = codes.reshape(-1)
    n_categories = int(codes.max()) + 1
    table = np.zeros((n_categories, n_categories), dtype=np.float64)
    np.add.at(table, (codes[:n], codes[n:]), 1.0)
    observed = np.trace(table) / n
    expected = float(table.sum(axis=1) @ table.sum(axis=0)) / n**2
    if math.isclose(expected, 1.0):
        return math.nan
    return float((observed - expected) / (1.0 - expected))


def _curve(labels_used: ArrayLike, scores: ArrayLike) -> tuple[NDArray, NDArray]:
    x = np.asarray(labels_used, dtype=np.float64)
    y = np.asarray(scores, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(
            f"labels_used and scores must be 1-D of one length, got {x.shape} and {y.shape}"
        )
    if x.size == 0:
        raise ValueError("the learning curve has no points")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("the learning curve contains NaN or infinite values")
    if np.any(np.diff(x) <= 0):
        raise ValueError("labels_used must be strictly increasing")
    return x, y


def learning_curve_area(labels_used: ArrayLike, scores: ArrayLike) -> float:
    """Mean score over the labelling budget: trapezoid area divided by the label range.

    A curve that reaches a good score with fewer labels has the larger area; the
    normalisation keeps the value on the score's own scale (a constant curve at 0.8 gives 0.8).
    A single point gives its own score. Compare curves only over the same label range.

    Raises
    ------
    ValueError
        Lengths differ, no points, non-finite values, or labels not strictly increasing.
    """
    x, y = _curve(labels_used, scores)
    if x.size == 1:
        return float(y[0])
    area = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))
    return area / float(x[-1] - x[0])


def labels_to_reach(labels_used: ArrayLike, scores: ArrayLike, target: float) -> float | None:
    """The first label count at which the score reaches ``target``; ``None`` if it never does.

    Raises
    ------
    ValueError
        As :func:`learning_curve_area`, or a non-finite target.
    """
    if not math.isfinite(target):
        raise ValueError(f"target must be finite, got {target}")
    x, y = _curve(labels_used, scores)
    reached = np.flatnonzero(y >= target)
    return float(x[reached[0]]) if reached.size else None
