"""Uncertainty scores of a probability matrix, one value per row."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def confidence(probabilities: NDArray[np.float64]) -> NDArray[np.float64]:
    """Probability of the top class."""
    return probabilities.max(axis=1)


def margin(probabilities: NDArray[np.float64]) -> NDArray[np.float64]:
    """Top probability minus the runner-up (the top one alone for a single class)."""
    if probabilities.shape[1] < 2:
        return probabilities[:, 0].copy()
    top_two = np.partition(probabilities, -2, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


def entropy(probabilities: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shannon entropy in nats; 0·log 0 counts as 0."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return -(probabilities * np.log(p)).sum(axis=1)
