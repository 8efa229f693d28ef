"""Annotator agreement against scikit-learn, and learning-curve summaries."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from learner.agreement import cohen_kappa, labels_to_reach, learning_curve_area


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_kappa_agrees_with_scikit_learn(seed: int, n_classes: int) -> None:
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n_classes, 80)
    # The second annotator copies the first most of the time, and sometimes uses a class of
    # their own, so categories and marginals differ between the two.
    second = np.where(rng.random(80) < 0.6, first, rng.integers(0, n_classes + 1, 80))
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)


def test_kappa_of_string_labels_agrees_with_scikit_learn() -> None:
    first = ["bird", "frog", "bird", "noise", "frog", "bird", "bird", "noise"]
    second = ["bird", "frog", "frog", "noise", "frog", "bird", "insect", "bird"]
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second))


def test_perfect_and_chance_agreement() -> None:
    labels = np.array([0, 1, 2, 0, 1, 2])
    assert cohen_kappa(labels, labels) == 1.0
    # Independent annotators: kappa near 0 on a large sample.
    rng = np.random.default_rng(9)
    assert abs(cohen_kappa(rng.integers(0, 3, 20000), rng.integers(0, 3, 20000))) < 0.03


def test_kappa_is_nan_when_undefined() -> None:
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(cohen_kappa(["bird"] * 5, ["bird"] * 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(cohen_kappa_score(["bird"] * 5, ["bird"] * 5))


@pytest.mark.parametrize(
    ("a", "b"),
    [([0, 1, 2], [0, 1]), ([[0, 1]], [[0, 1]]), ([0.0, math.nan], [0.0, 1.0])],
)
def test_kappa_bad_labels_are_rejected(a, b) -> None:
    with pytest.raises(ValueError):
        cohen_kappa(a, b)


def test_learning_curve_area_is_the_mean_score_over_the_budget() -> None:
    assert learning_curve_area([10, 50, 100], [0.8, 0.8, 0.8]) == pytest.approx(0.8)
    # A straight line from 0.2 to 0.8 averages 0.5, however the points are spaced.
    assert learning_curve_area([0, 10, 100], [0.2, 0.26, 0.8]) == pytest.approx(0.5)
    assert learning_curve_area([0, 100], [0.2, 0.8]) == pytest.approx(
        np.trapezoid([0.2, 0.8], [0, 100]) / 100
    )
    assert learning_curve_area([40], [0.7]) == 0.7


def test_a_faster_curve_has_the_larger_area() -> None:
    labels = [20, 40, 80, 160]
    assert learning_curve_area(labels, [0.6, 0.8, 0.85, 0.9]) > learning_curve_area(
        labels, [0.4, 0.6, 0.8, 0.9]
    )


def test_labels_to_reach_is_the_first_count_at_the_target() -> None:
    labels = [20, 40, 80, 160]
    scores = [0.5, 0.7, 0.65, 0.9]
    assert labels_to_reach(labels, scores, 0.7) == 40.0
    assert labels_to_reach(labels, scores, 0.8) == 160.0
    assert labels_to_reach(labels, scores, 0.95) is None


@pytest.mark.parametrize(
    ("labels", "scores"),
    [
        ([10, 20], [0.5]),
        ([], []),
        ([10, 10], [0.5, 0.6]),
        ([20, 10], [0.5, 0.6]),
        ([10, 20], [0.5, math.nan]),
    ],
)
def test_bad_learning_curve_is_rejected(labels, scores) -> None:
    with pytest.raises(ValueError):
        learning_curve_area(labels, scores)
    with pytest.raises(ValueError):
        labels_to_reach(labels, scores, 0.5)


def test_non_finite_target_is_rejected() -> None:
    with pytest.raises(ValueError, match="target"):
        labels_to_reach([10, 20], [0.5, 0.6], math.nan)
