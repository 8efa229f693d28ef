"""Pseudo-labels: per-class confidence thresholds chosen on the audit set, then selection.

The audit set is the uniform random share of the queue (see
:func:`learner.strategies.mix_audit`), so the error measured on it above a threshold estimates
the error of the pseudo-labels that threshold would accept from the unlabelled pool.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaincinv

DEFAULT_TARGET_ERROR = 0.02
DEFAULT_MIN_SUPPORT = 30
DEFAULT_CONFIDENCE_LEVEL = 0.95
DEFAULT_MINORITY_RATIO = 3.0


class PseudoLabelError(ValueError):
    """Audit or pool arrays that cannot support a pseudo-label decision."""


@dataclass(frozen=True)
class PseudoThresholds:
    """Per-class thresholds and the audit evidence behind them.

    Attributes
    ----------
    thresholds
        Class index -> lowest accepted confidence; ``math.inf`` where no threshold meets the
        target, so the class gets no pseudo-labels.
    precision
        Class index -> observed precision of the audit items the threshold accepts (``nan``
        where it accepts none).
    audit_counts
        Class index -> number of audit items the model predicted as that class.
    target_error
        The error the thresholds were chosen to stay under.
    confidence_level
        Level of the one-sided Clopper-Pearson bound the error was checked with.
    """

    thresholds: dict[int, float]
    precision: dict[int, float]
    audit_counts: dict[int, int]
    target_error: float
    confidence_level: float = DEFAULT_CONFIDENCE_LEVEL


def _columns(confidence: ArrayLike, predicted: ArrayLike, n_classes: int | None = None) -> tuple:
    sure = np.asarray(confidence, dtype=np.float64)
    label = np.asarray(predicted)
    if sure.ndim != 1 or label.ndim != 1 or sure.shape != label.shape:
        raise PseudoLabelError(
            f"confidence and predicted must be 1-D of one length, got {sure.shape}, {label.shape}"
        )
    if not np.all(np.isfinite(sure)) or (sure.size and (sure.min() < 0 or sure.max() > 1)):
        raise PseudoLabelError("confidence must be finite and lie in [0, 1]")
    if label.size and not np.issubdtype(label.dtype, np.integer):
        raise PseudoLabelError("predicted must hold integer class indices")
    label = label.astype(np.int64)
    if label.size and label.min() < 0:
        raise PseudoLabelError("predicted holds a negative class index")
    if n_classes is not None and label.size and label.max() >= n_classes:
        raise PseudoLabelError(f"predicted holds a class index outside range({n_classes})")
    return sure, label


def error_upper_bound(errors: ArrayLike, n: ArrayLike, level: float) -> NDArray[np.float64]:
    """One-sided Clopper-Pearson upper bound on an error rate from ``errors`` out of ``n``.

    With no errors in ``n`` items the bound is ``1 - (1 - level) ** (1 / n)``, about ``3 / n`` at
    95 %, so a handful of lucky audit items never passes a 2 % target.
    """
    e = np.asarray(errors, dtype=np.float64)
    total = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = betaincinv(e + 1, np.maximum(total - e, 1e-300), level)
    return np.where(e >= total, 1.0, bound)


def choose_thresholds(
    confidence: ArrayLike,
    predicted: ArrayLike,
    correct: ArrayLike,
    n_classes: int,
    *,
    target_error: float = DEFAULT_TARGET_ERROR,
    min_support: int = DEFAULT_MIN_SUPPORT,
    confidence_level: float = DEFAULT_CONFIDENCE_LEVEL,
) -> PseudoThresholds:
    """Per class, the lowest confidence threshold whose accepted audit items meet the target.

    For class ``c`` the candidates are the confidences of the audit items predicted as ``c``.
    Threshold ``t`` accepts the audit items predicted as ``c`` with confidence ``>= t``; it
    qualifies when at least ``min_support`` items are accepted and the one-sided
    Clopper-Pearson upper bound (at ``confidence_level``) on their error rate is at most
    ``target_error``. The lowest qualifying ``t`` wins. The bound, not the raw error rate, is
    what keeps a few lucky items from opening the gate; the minimum support guards the same
    thing when the target is loose.

    Parameters
    ----------
    confidence, predicted, correct
        Per audit item: the model's confidence in its prediction, the predicted class index,
        and whether a person agreed with it.
    n_classes
        Number of classes; every class gets an entry, ``math.inf`` when it has no threshold.

    Raises
    ------
    PseudoLabelError
        Arrays of different lengths or not 1-D; confidence not finite or outside ``[0, 1]``;
        class indices outside ``range(n_classes)``; ``target_error`` or ``confidence_level``
        outside ``(0, 1)``; ``min_support < 1``.
    """
    if int(n_classes) != n_classes or n_classes < 1:
        raise PseudoLabelError(f"n_classes must be a positive integer, got {n_classes}")
    if not 0.0 < target_error < 1.0 or not 0.0 < confidence_level < 1.0:
        raise PseudoLabelError("target_error and confidence_level must lie in (0, 1)")
    if int(min_support) != min_support or min_support < 1:
        raise PseudoLabelError(f"min_support must be a positive integer, got {min_support}")
    sure, label = _columns(confidence, predicted, n_classes)
    agreed = np.asarray(correct)
    if agreed.shape != sure.shape:
        raise PseudoLabelError(f"correct has shape {agreed.shape}, expected {sure.shape}")
    if agreed.size and not np.isin(agreed, (0, 1)).all():
        raise PseudoLabelError("correct must be boolean")
    agreed = agreed.astype(bool)

    thresholds, precision, counts = {}, {}, {}
    for c in range(n_classes):
        mine = label == c
        counts[c] = int(mine.sum())
        thresholds[c], precision[c] = math.inf, math.nan
        order = np.argsort(-sure[mine], kind="stable")
        ranked, right = sure[mine][order], agreed[mine][order]
        accepted = np.arange(1, ranked.size + 1)
        errors = np.cumsum(~right)
        # Only the last of equal confidences is a real cut: a threshold takes all ties.
        cut = np.append(ranked[1:] != ranked[:-1], True) if ranked.size else ranked.astype(bool)
        passes = (
            cut
            & (accepted >= min_support)
            & (error_upper_bound(errors, accepted, confidence_level) <= target_error)
        )
        if passes.any():
            last = int(np.flatnonzero(passes)[-1])
            thresholds[c] = float(ranked[last])
            precision[c] = 1.0 - errors[last] / accepted[last]
    return PseudoThresholds(thresholds, precision, counts, float(target_error), confidence_level)


def _passing(sure: NDArray, label: NDArray, thresholds: PseudoThresholds) -> NDArray[np.bool_]:
    unknown = set(np.unique(label).tolist()) - set(thresholds.thresholds)
    if unknown:
        raise PseudoLabelError(f"no threshold for predicted classes {sorted(unknown)}")
    cut = np.array([thresholds.thresholds[c] for c in label.tolist()], dtype=np.float64)
    return sure >= cut


def select_pseudo_labels(
    confidence: ArrayLike,
    predicted: ArrayLike,
    thresholds: PseudoThresholds,
    *,
    cap_per_class: int | None = None,
    minority_ratio: float | None = DEFAULT_MINORITY_RATIO,
) -> NDArray[np.int64]:
    """Unlabelled items to pseudo-label: confident enough for their predicted class, capped.

    An item passes when its confidence is at least its predicted class's threshold. Each class
    then keeps at most a cap of its passing items, the most confident first:

    - ``cap_per_class`` given: that number for every class;
    - otherwise ``minority_ratio`` given: ``ceil(minority_ratio * m)`` where ``m`` is the
      smallest non-zero count of passing items among the classes, so an easy majority class
      cannot outnumber the rarest pseudo-labelled class more than that ratio;
    - both ``None``: no cap.

    Returns
    -------
    NDArray[int64]
        Indices into the given arrays, most confident first, ties by lower index.

    Raises
    ------
    PseudoLabelError
        Arrays of different lengths, non-finite or out-of-range confidence, a predicted class
        without a threshold, a negative cap or a ``minority_ratio`` below 1.
    """
    if cap_per_class is not None and (int(cap_per_class) != cap_per_class or cap_per_class < 0):
        raise PseudoLabelError(f"cap_per_class must be a non-negative integer, got {cap_per_class}")
    if minority_ratio is not None and not minority_ratio >= 1.0:
        raise PseudoLabelError(f"minority_ratio must be at least 1, got {minority_ratio}")
    sure, label = _columns(confidence, predicted)
    passing = np.flatnonzero(_passing(sure, label, thresholds))
    passing = passing[np.lexsort((passing, -sure[passing]))]  # most confident first
    counts = np.bincount(label[passing], minlength=1)
    if cap_per_class is not None:
        cap = int(cap_per_class)
    elif minority_ratio is not None and passing.size:
        cap = math.ceil(minority_ratio * counts[counts > 0].min())
    else:
        return passing.astype(np.int64)
    # Rank of each passing item within its class, in the confidence order above.
    classes = label[passing]
    by_class = np.argsort(classes, kind="stable")
    sorted_classes = classes[by_class]
    rank = np.empty(passing.size, dtype=np.int64)
    rank[by_class] = np.arange(passing.size) - np.searchsorted(sorted_classes, sorted_classes)
    keep = rank < cap
    return passing[keep].astype(np.int64)


def estimated_precision(
    thresholds: PseudoThresholds,
    confidence: ArrayLike,
    predicted: ArrayLike,
    correct: ArrayLike,
) -> float:
    """Observed precision, over all classes, of the audit items the thresholds accept.

    ``nan`` when they accept none.

    Raises
    ------
    PseudoLabelError
        As :func:`select_pseudo_labels`, or ``correct`` of another length.
    """
    sure, label = _columns(confidence, predicted)
    agreed = np.asarray(correct, dtype=bool)
    if agreed.shape != sure.shape:
        raise PseudoLabelError(f"correct has shape {agreed.shape}, expected {sure.shape}")
    accepted = _passing(sure, label, thresholds)
    return float(agreed[accepted].mean()) if accepted.any() else math.nan


def coverage(confidence: ArrayLike, predicted: ArrayLike, thresholds: PseudoThresholds) -> float:
    """Share of the given items whose confidence passes their class's threshold (before caps).

    Raises
    ------
    PseudoLabelError
        As :func:`select_pseudo_labels`, or no items.
    """
    sure, label = _columns(confidence, predicted)
    if sure.size == 0:
        raise PseudoLabelError("no items to measure coverage on")
    return float(_passing(sure, label, thresholds).mean())
