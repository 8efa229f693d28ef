"""Likely label errors among human labels, by confident learning on out-of-fold predictions.

The caller trains one model per fold of :func:`out_of_fold_folds`, predicts each item with the
model that did not see it, and hands labels and those probabilities to
:func:`find_label_issues`. Probabilities from a model that trained on the item would simply
repeat its label back and hide the error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

_ROW_SUM_TOLERANCE = 1e-2


class LabelIssueError(ValueError):
    """Labels and probabilities that cannot be checked for label issues."""


@dataclass(frozen=True)
class LabelIssue:
    """One item whose given label the out-of-fold model doubts.

    Attributes
    ----------
    index
        Position of the item in the arrays passed in.
    given
        The label a person gave (class index).
    suggested
        The class the out-of-fold model finds most likely.
    self_confidence
        The out-of-fold probability of the given label; lower is more suspect.
    """

    index: int
    given: int
    suggested: int
    self_confidence: float


def _checked(labels: ArrayLike, probabilities: ArrayLike) -> tuple[NDArray, NDArray]:
    given = np.asarray(labels)
    p = np.asarray(probabilities, dtype=np.float64)
    if given.ndim != 1 or (given.size and not np.issubdtype(given.dtype, np.integer)):
        raise LabelIssueError("labels must be a one-dimensional array of class indices")
    if p.ndim != 2 or p.shape[0] != given.size:
        raise LabelIssueError(
            f"expected out-of-fold probabilities of shape ({given.size}, n_classes), got {p.shape}"
        )
    if not np.all(np.isfinite(p)):
        raise LabelIssueError("out-of-fold probabilities contain NaN or infinite values")
    if p.size and (p.min() < 0 or np.abs(p.sum(axis=1) - 1).max() > _ROW_SUM_TOLERANCE):
        raise LabelIssueError("every row of out-of-fold probabilities must be a distribution")
    given = given.astype(np.int64)
    if given.size and (given.min() < 0 or given.max() >= p.shape[1]):
        raise LabelIssueError(f"labels hold a class index outside range({p.shape[1]})")
    if np.unique(given).size < 2:
        raise LabelIssueError("label issues need at least two classes among the labels")
    return given, p


def find_label_issues(
    labels: ArrayLike,
    out_of_fold_probabilities: ArrayLike,
    *,
    max_issues: int | None = None,
) -> list[LabelIssue]:
    """Items whose label is probably wrong, the most suspect first.

    Confident learning (``cleanlab.filter.find_label_issues``, pruning by noise rate): the
    joint distribution of given and true labels is estimated from per-class confidence
    thresholds, and the items most likely to sit off its diagonal are flagged. They are ranked
    by self-confidence, lowest first.

    Parameters
    ----------
    labels
        Given class index per item.
    out_of_fold_probabilities
        ``(n, C)`` probabilities, each row from a model that did not train on that item.
    max_issues
        Return at most this many (the worst); all flagged items when ``None``.

    Raises
    ------
    LabelIssueError
        Shapes disagree; probabilities not finite or not distributions; labels not class
        indices within ``range(C)``; fewer than two classes among the labels; ``max_issues``
        negative.
    """
    if max_issues is not None and (int(max_issues) != max_issues or max_issues < 0):
        raise LabelIssueError(f"max_issues must be a non-negative integer, got {max_issues}")
    given, p = _checked(labels, out_of_fold_probabilities)
    from cleanlab.filter import find_label_issues as confident_learning  # heavy; only here

    # One process: the caller may be a job worker or a web server, where forking is unwelcome.
    ranked = confident_learning(given, p, return_indices_ranked_by="self_confidence", n_jobs=1)
    if max_issues is not None:
        ranked = ranked[:max_issues]
    return [
        LabelIssue(
            index=int(i),
            given=int(given[i]),
            suggested=int(p[i].argmax()),
            self_confidence=float(p[i, given[i]]),
        )
        for i in ranked
    ]


def out_of_fold_folds(labels: ArrayLike, n_folds: int = 3, *, seed: int = 0) -> NDArray[np.int64]:
    """Fold index in ``range(n_folds)`` per item, stratified by label.

    Items are shuffled with ``seed``, grouped by label, and dealt to folds in turn with the
    count carried across classes, so every class is spread as evenly as it can be and fold
    sizes differ by at most one. Labels may be integers or strings.

    Raises
    ------
    LabelIssueError
        Labels not 1-D; ``n_folds < 2``; fewer items than folds.
    """
    given = np.asarray(labels)
    if given.ndim != 1:
        raise LabelIssueError(f"labels must be one-dimensional, got shape {given.shape}")
    if int(n_folds) != n_folds or n_folds < 2:
        raise LabelIssueError(f"n_folds must be an integer of at least 2, got {n_folds}")
    if given.size < n_folds:
        raise LabelIssueError(f"{given.size} items cannot fill {n_folds} folds")
    _, codes = np.unique(given, return_inverse=True)
    shuffled = np.random.default_rng(seed).permutation(given.size)
    dealt = shuffled[np.argsort(codes.reshape(-1)[shuffled], kind="stable")]
    folds = np.empty(given.size, dtype=np.int64)
    folds[dealt] = np.arange(given.size) % n_folds
    return folds
