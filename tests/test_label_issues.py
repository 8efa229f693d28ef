"""Label issues: planted flipped labels are found by confident learning, clean ones left alone."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import PredefinedSplit, cross_val_predict

from learner.label_issues import LabelIssueError, find_label_issues, out_of_fold_folds


@pytest.fixture(scope="module")
def flipped() -> dict[str, np.ndarray]:
    """A separable three-class problem with 15 labels flipped, and out-of-fold probabilities."""
    features, truth = make_blobs(
        n_samples=300, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=1.0, random_state=0
    )
    rng = np.random.default_rng(0)
    planted = rng.choice(truth.size, 15, replace=False)
    labels = truth.copy()
    labels[planted] = (truth[planted] + rng.integers(1, 3, planted.size)) % 3
    folds = out_of_fold_folds(labels, 3, seed=0)
    probabilities = cross_val_predict(
        LogisticRegression(),
        features,
        labels,
        cv=PredefinedSplit(folds),
        method="predict_proba",
    )
    return {
        "features": features,
        "labels": labels,
        "truth": truth,
        "planted": planted,
        "probabilities": probabilities,
    }


def test_flipped_labels_are_found_and_clean_ones_left_alone(flipped) -> None:
    issues = find_label_issues(flipped["labels"], flipped["probabilities"])
    found = {issue.index for issue in issues}
    planted = set(flipped["planted"].tolist())
    assert len(found & planted) >= 12
    assert len(found - planted) <= 4
    for issue in issues:
        assert issue.given == flipped["labels"][issue.index]
        if issue.index in planted:
            assert issue.suggested == flipped["truth"][issue.index]


def test_issues_come_worst_first_and_can_be_capped(flipped) -> None:
    issues = find_label_issues(flipped["labels"], flipped["probabilities"])
    confidences = [issue.self_confidence for issue in issues]
    assert confidences == sorted(confidences)
    assert confidences[0] == pytest.approx(
        flipped["probabilities"][issues[0].index, issues[0].given]
    )
    worst = find_label_issues(flipped["labels"], flipped["probabilities"], max_issues=3)
    assert worst == issues[:3]
    assert find_label_issues(flipped["labels"], flipped["probabilities"], max_issues=0) == []


def test_clean_labels_raise_few_issues(flipped) -> None:
    truth = flipped["truth"]
    probabilities = cross_val_predict(
        LogisticRegression(),
        flipped["features"],
        truth,
        cv=PredefinedSplit(out_of_fold_folds(truth, 3)),
        method="predict_proba",
    )
    assert len(find_label_issues(truth, probabilities)) <= 4


def good_input() -> tuple[np.ndarray, np.ndarray]:
    labels = np.array([0, 1, 2, 0, 1, 2])
    return labels, np.eye(3)[labels] * 0.8 + 0.2 / 3


@pytest.mark.parametrize(
    "breakage",
    [
        "short probabilities",
        "nan",
        "one class",
        "label out of range",
        "float labels",
        "not distributions",
        "negative max",
    ],
)
def test_bad_input_is_rejected(breakage: str) -> None:
    labels, probabilities = good_input()
    options = {}
    if breakage == "short probabilities":
        probabilities = probabilities[:-1]
    elif breakage == "nan":
        probabilities[2, 1] = np.nan
    elif breakage == "one class":
        labels = np.zeros_like(labels)
    elif breakage == "label out of range":
        labels[0] = 3
    elif breakage == "float labels":
        labels = labels.astype(float)
    elif breakage == "not distributions":
        probabilities = probabilities * 3
    elif breakage == "negative max":
        options = {"max_issues": -1}
    with pytest.raises(LabelIssueError):
        find_label_issues(labels, probabilities, **options)


def test_folds_are_stratified_and_balanced() -> None:
    labels = np.repeat(["bird", "frog", "noise"], [50, 31, 7])
    folds = out_of_fold_folds(labels, 3, seed=1)
    assert folds.dtype == np.int64 and set(folds.tolist()) == {0, 1, 2}
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1
    for name in ("bird", "frog", "noise"):
        per_fold = np.bincount(folds[labels == name], minlength=3)
        assert per_fold.max() - per_fold.min() <= 1


def test_folds_are_deterministic_under_a_seed() -> None:
    labels = np.random.default_rng(0).integers(0, 4, 100)
    np.testing.assert_array_equal(
        out_of_fold_folds(labels, seed=5), out_of_fold_folds(labels, seed=5)
    )
    assert not np.array_equal(out_of_fold_folds(labels, seed=5), out_of_fold_folds(labels, seed=6))


@pytest.mark.parametrize(
    ("labels", "n_folds"),
    [([0, 1, 0, 1], 1), ([0, 1], 3), ([[0, 1], [1, 0]], 2), ([0, 1, 0, 1], 2.5)],
)
def test_bad_fold_request_is_rejected(labels, n_folds) -> None:
    with pytest.raises(LabelIssueError):
        out_of_fold_folds(labels, n_folds)
