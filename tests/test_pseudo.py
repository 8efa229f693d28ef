"""Pseudo-label thresholds on planted audit sets, and the caps that protect a minority class."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from learner.pseudo import (
    PseudoLabelError,
    PseudoThresholds,
    choose_thresholds,
    coverage,
    error_upper_bound,
    estimated_precision,
    select_pseudo_labels,
)


def audit_with_errors_below(cut: float, n_right: int = 200, n_wrong: int = 100, seed: int = 0):
    """Audit items of class 0: right above ``cut``, wrong below it.

    With 200 right the bound is 1.5 %; one error more lifts it to 2.3 %, over the 2 % target, so
    the threshold must stop exactly at the lowest right item.
    """
    rng = np.random.default_rng(seed)
    confidence = np.concatenate([rng.uniform(cut, 1.0, n_right), rng.uniform(0.3, cut, n_wrong)])
    correct = np.arange(n_right + n_wrong) < n_right
    return confidence, np.zeros(confidence.size, dtype=np.int64), correct


def test_threshold_lands_where_the_errors_stop() -> None:
    confidence, predicted, correct = audit_with_errors_below(0.8)
    chosen = choose_thresholds(confidence, predicted, correct, 2)
    assert chosen.thresholds[0] == confidence[correct].min()
    assert 0.8 <= chosen.thresholds[0] < 0.81
    assert chosen.precision[0] == 1.0
    assert chosen.audit_counts == {0: 300, 1: 0}
    assert chosen.thresholds[1] == math.inf and math.isnan(chosen.precision[1])


def test_threshold_goes_lower_when_rare_errors_keep_the_bound_under_target() -> None:
    rng = np.random.default_rng(1)
    confidence = np.concatenate([rng.uniform(0.5, 1.0, 1000), [0.55, 0.6]])
    correct = np.arange(1002) < 1000
    chosen = choose_thresholds(confidence, np.zeros(1002, dtype=np.int64), correct, 1)
    assert chosen.thresholds[0] == confidence.min()
    assert chosen.precision[0] == pytest.approx(1000 / 1002)


def test_a_few_lucky_audit_items_do_not_open_the_gate() -> None:
    confidence, predicted, correct = np.full(20, 0.99), np.zeros(20, dtype=np.int64), np.ones(20)
    assert choose_thresholds(confidence, predicted, correct, 1).thresholds[0] == math.inf
    # Even without a minimum support, 20 of 20 right cannot show an error under 2 %.
    loose = choose_thresholds(confidence, predicted, correct, 1, min_support=1)
    assert loose.thresholds[0] == math.inf
    # With a looser target the same evidence is enough, and ties form one cut.
    easy = choose_thresholds(confidence, predicted, correct, 1, target_error=0.2, min_support=1)
    assert easy.thresholds[0] == 0.99


def test_each_class_gets_its_own_threshold() -> None:
    easy = audit_with_errors_below(0.6, seed=2)
    hard = audit_with_errors_below(0.9, seed=3)
    chosen = choose_thresholds(
        np.concatenate([easy[0], hard[0]]),
        np.concatenate([easy[1], hard[1] + 1]),
        np.concatenate([easy[2], hard[2]]),
        2,
    )
    assert 0.6 <= chosen.thresholds[0] < 0.61
    assert 0.9 <= chosen.thresholds[1] < 0.91


@pytest.mark.parametrize(("errors", "n"), [(0, 10), (0, 150), (1, 40), (5, 200), (30, 30)])
def test_error_bound_matches_the_exact_binomial_interval(errors: int, n: int) -> None:
    # A one-sided 95 % bound is the upper end of the two-sided 90 % Clopper-Pearson interval.
    expected = binomtest(errors, n).proportion_ci(confidence_level=0.90, method="exact").high
    assert error_upper_bound(errors, n, 0.95) == pytest.approx(expected, rel=1e-9)


def test_empty_audit_set_gives_no_thresholds() -> None:
    chosen = choose_thresholds([], np.array([], dtype=np.int64), [], 3)
    assert chosen.thresholds == {0: math.inf, 1: math.inf, 2: math.inf}


@pytest.mark.parametrize(
    ("confidence", "predicted", "correct", "options"),
    [
        ([0.9, 0.8], [0], [True], {}),
        ([0.9, 0.8], [0, 1], [True], {}),
        ([0.9, math.nan], [0, 1], [True, True], {}),
        ([0.9, 1.2], [0, 1], [True, True], {}),
        ([0.9, 0.8], [0, 5], [True, True], {}),
        ([0.9, 0.8], [0.0, 1.0], [True, True], {}),
        ([0.9, 0.8], [0, 1], [1, 2], {}),
        ([0.9, 0.8], [0, 1], [True, True], {"target_error": 0.0}),
        ([0.9, 0.8], [0, 1], [True, True], {"target_error": 1.5}),
        ([0.9, 0.8], [0, 1], [True, True], {"min_support": 0}),
        ([0.9, 0.8], [0, 1], [True, True], {"confidence_level": 1.0}),
    ],
)
def test_bad_audit_input_is_rejected(confidence, predicted, correct, options) -> None:
    with pytest.raises(PseudoLabelError):
        choose_thresholds(confidence, np.asarray(predicted), correct, 2, **options)


def thresholds(**cuts: float) -> PseudoThresholds:
    by_class = {int(name[1:]): cut for name, cut in cuts.items()}
    return PseudoThresholds(
        by_class, dict.fromkeys(by_class, 1.0), dict.fromkeys(by_class, 50), 0.02
    )


def test_items_pass_their_own_class_threshold() -> None:
    confidence = np.array([0.95, 0.85, 0.75, 0.65, 0.99, 0.7])
    predicted = np.array([0, 0, 1, 1, 2, 1])
    cuts = thresholds(c0=0.9, c1=0.7, c2=math.inf)
    picks = select_pseudo_labels(confidence, predicted, cuts, minority_ratio=None)
    assert picks.tolist() == [0, 2, 5]
    assert coverage(confidence, predicted, cuts) == pytest.approx(3 / 6)


def test_cap_keeps_a_majority_class_from_swamping_a_minority() -> None:
    rng = np.random.default_rng(4)
    confidence = np.concatenate([rng.uniform(0.9, 1.0, 500), rng.uniform(0.9, 1.0, 20)])
    predicted = np.repeat([0, 1], [500, 20])
    cuts = thresholds(c0=0.9, c1=0.9)
    picks = select_pseudo_labels(confidence, predicted, cuts, minority_ratio=3.0)
    assert np.bincount(predicted[picks]).tolist() == [60, 20]
    kept_majority = set(picks[predicted[picks] == 0].tolist())
    assert kept_majority == set(np.argsort(-confidence[:500])[:60].tolist())
    assert np.all(np.diff(confidence[picks]) <= 0)  # most confident first
    uncapped = select_pseudo_labels(confidence, predicted, cuts, minority_ratio=None)
    assert uncapped.size == 520


def test_absolute_cap_applies_to_every_class() -> None:
    confidence = np.linspace(0.91, 0.99, 40)
    predicted = np.arange(40) % 2
    picks = select_pseudo_labels(confidence, predicted, thresholds(c0=0.9, c1=0.9), cap_per_class=5)
    assert np.bincount(predicted[picks]).tolist() == [5, 5]
    assert set(picks.tolist()) == set(range(30, 40))


def test_selection_is_deterministic_under_ties() -> None:
    confidence, predicted = np.full(10, 0.95), np.zeros(10, dtype=np.int64)
    picks = select_pseudo_labels(confidence, predicted, thresholds(c0=0.9), cap_per_class=4)
    assert picks.tolist() == [0, 1, 2, 3]


def test_estimated_precision_counts_only_accepted_audit_items() -> None:
    confidence, predicted, correct = audit_with_errors_below(0.8)
    chosen = choose_thresholds(confidence, predicted, correct, 1)
    assert estimated_precision(chosen, confidence, predicted, correct) == 1.0
    nothing = thresholds(c0=math.inf)
    assert math.isnan(estimated_precision(nothing, confidence, predicted, correct))


@pytest.mark.parametrize(
    ("confidence", "predicted", "options"),
    [
        ([0.9, 0.8], [0], {}),
        ([0.9, math.inf], [0, 0], {}),
        ([0.9, 0.8], [0, 3], {}),
        ([0.9, 0.8], [0, 0], {"cap_per_class": -1}),
        ([0.9, 0.8], [0, 0], {"minority_ratio": 0.5}),
    ],
)
def test_bad_pool_input_is_rejected(confidence, predicted, options) -> None:
    with pytest.raises(PseudoLabelError):
        select_pseudo_labels(confidence, np.asarray(predicted), thresholds(c0=0.5), **options)


def test_coverage_of_no_items_is_rejected() -> None:
    with pytest.raises(PseudoLabelError, match="no items"):
        coverage([], np.array([], dtype=np.int64), thresholds(c0=0.5))
