"""Temperature scaling: one scalar fitted on validation logits, then applied everywhere."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar


def softmax(logits: NDArray[np.float64], temperature: float = 1.0) -> NDArray[np.float64]:
    """Class probabilities from logits divided by ``temperature``."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def negative_log_likelihood(
    logits: NDArray[np.float64], y_true: NDArray[np.int64], temperature: float
) -> float:
    probabilities = softmax(logits, temperature)
    picked = probabilities[np.arange(len(y_true)), y_true]
    return float(-np.log(np.clip(picked, 1e-12, None)).mean())


def fit_temperature(logits: NDArray[np.float64], y_true: NDArray[np.int64]) -> float:
    """The temperature in [0.05, 20] minimising validation NLL (1.0 when there is nothing to fit).

    Raises
    ------
    ValueError
        Logits and labels disagree in length.
    """
    logits = np.asarray(logits, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    if len(logits) != len(y_true):
        raise ValueError(f"{len(logits)} logit rows for {len(y_true)} labels")
    if len(y_true) == 0:
        return 1.0
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, y_true, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    return float(np.exp(result.x))
