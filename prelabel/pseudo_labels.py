"""Pseudo-labels for a snapshot: which unlabelled items take a model version's suggestion.

Per class, the lowest calibrated confidence whose accepted audit items keep the estimated error
under the target (:func:`learner.pseudo.choose_thresholds`); then the unlabelled items that pass
their predicted class's threshold, capped per class (:func:`learner.pseudo.select_pseudo_labels`).
The audit set is the people's decisions on items the queue's random audit stream served, so
the error measured on it estimates the error on the unlabelled pool. The snapshot records how the
choice was made, including why nothing was chosen.
"""

from __future__ import annotations

import math

import numpy as np
from sqlalchemy.orm import Session

from learner.pseudo import (
    DEFAULT_CONFIDENCE_LEVEL,
    DEFAULT_MIN_SUPPORT,
    DEFAULT_MINORITY_RATIO,
    DEFAULT_TARGET_ERROR,
    PseudoThresholds,
    choose_thresholds,
    coverage,
    error_upper_bound,
    estimated_precision,
    select_pseudo_labels,
)
from store.errors import ValidationError
from store.models import Project, Snapshot
from store.snapshots import (
    PseudoEntry,
    PseudoLabels,
    Resolution,
    audit_evidence,
    create_snapshot,
    pseudo_candidates,
    resolve_labels,
)
from store.suggestions import model_version_for

__all__ = [
    "DEFAULT_TARGET_ERROR",
    "audit_labels_needed",
    "create_pseudo_snapshot",
    "plan_pseudo_labels",
]


def audit_labels_needed(
    target_error: float,
    *,
    min_support: int = DEFAULT_MIN_SUPPORT,
    confidence_level: float = DEFAULT_CONFIDENCE_LEVEL,
) -> int | None:
    """Fewest audit items predicted as one class, all of them right, that let that class
    qualify at ``target_error`` (``None``: more than 100,000)."""
    n = np.arange(1, 100_001)
    ok = (n >= min_support) & (
        error_upper_bound(np.zeros_like(n), n, confidence_level) <= target_error
    )
    return int(n[ok][0]) if ok.any() else None


CAP_RULE = f"{DEFAULT_MINORITY_RATIO:g} x the rarest class (pseudo-labels or human labels)"


def default_cap(
    confidence: np.ndarray,
    predicted: np.ndarray,
    thresholds: PseudoThresholds,
    resolution: Resolution,
    classes: list[str],
) -> int:
    """``DEFAULT_MINORITY_RATIO`` times the fewest of: the passing candidates of any class that
    has some, and the human labels of any class that has some (rounded up)."""
    cut = np.array([thresholds.thresholds[c] for c in predicted.tolist()], dtype=np.float64)
    passing = np.bincount(predicted[confidence >= cut], minlength=len(classes))
    human = np.bincount(
        [classes.index(lab.label) for lab in resolution.labels if lab.label in classes],
        minlength=len(classes),
    )
    counts = np.concatenate([passing[passing > 0], human[human > 0]])
    return math.ceil(DEFAULT_MINORITY_RATIO * counts.min()) if counts.size else 0


def _check(target_error: float, cap_per_class: int | None) -> None:
    if not 0.0 < target_error < 1.0:
        raise ValidationError(f"the target error must lie between 0 and 1, got {target_error}")
    if cap_per_class is not None and cap_per_class < 0:
        raise ValidationError(f"the cap per class must be zero or more, got {cap_per_class}")


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def plan_pseudo_labels(
    session: Session,
    project: Project,
    resolution: Resolution,
    *,
    version_id: int | None = None,
    target_error: float = DEFAULT_TARGET_ERROR,
    cap_per_class: int | None = None,
) -> PseudoLabels:
    """Choose pseudo-labels from a version's suggestions (default: the active version).

    ``cap_per_class`` limits every class to that many. Without it the cap is
    :func:`default_cap`: ``learner.pseudo.DEFAULT_MINORITY_RATIO`` times the rarer of the rarest
    pseudo-labelled class and the rarest class among the human labels, so neither an easy class
    nor a class that alone passes its threshold swamps the minority class.

    Raises
    ------
    store.errors.NotFoundError
        No such version in the project, or no active one.
    store.errors.ValidationError
        A target error outside (0, 1) or a negative cap.
    """
    _check(target_error, cap_per_class)
    version = model_version_for(session, project.id, version_id)
    classes = list(version.classes)
    index = {name: i for i, name in enumerate(classes)}
    audit = audit_evidence(session, project.id, version.id)
    audit_columns = (
        np.array([a.confidence for a in audit], dtype=np.float64),
        np.array([index[a.predicted] for a in audit], dtype=np.int64),
        np.array([a.human == a.predicted for a in audit], dtype=bool),
    )
    thresholds = choose_thresholds(*audit_columns, len(classes), target_error=target_error)
    candidates = pseudo_candidates(session, project.id, version.id)
    confidence = np.array([c.confidence for c in candidates], dtype=np.float64)
    predicted = np.array([index[c.label] for c in candidates], dtype=np.int64)
    passing = coverage(confidence, predicted, thresholds) if candidates else 0.0
    cap = cap_per_class
    if cap is None:
        cap = default_cap(confidence, predicted, thresholds, resolution, classes)
    chosen = (
        select_pseudo_labels(confidence, predicted, thresholds, cap_per_class=cap)
        if candidates
        else np.zeros(0, dtype=np.int64)
    )
    entries = [
        PseudoEntry(c.item_id, c.label, c.suggestion_id, c.start_s, c.end_s)
        for c in (candidates[i] for i in chosen.tolist())
    ]
    by_label = {name: 0 for name in classes}
    for entry in entries:
        by_label[entry.label] += 1
    overall = estimated_precision(thresholds, *audit_columns) if audit else math.nan
    finite = [t for t in thresholds.thresholds.values() if math.isfinite(t)]
    record = {
        "model_version": version.id,
        "target_error": target_error,
        "confidence_level": thresholds.confidence_level,
        "thresholds": {classes[c]: _finite(t) for c, t in thresholds.thresholds.items()},
        "precision": {classes[c]: _finite(p) for c, p in thresholds.precision.items()},
        "estimated_precision": _finite(overall),
        "audit_size": len(audit),
        "audit_by_class": {classes[c]: n for c, n in thresholds.audit_counts.items()},
        "audit_needed_per_class": audit_labels_needed(target_error),
        "candidates": len(candidates),
        "coverage_before_cap": passing,
        "accepted": len(entries),
        "coverage": len(entries) / len(candidates) if candidates else 0.0,
        "by_label": by_label,
        "cap_per_class": cap,
        "cap_rule": "given" if cap_per_class is not None else CAP_RULE,
        "note": _note(version.id, thresholds, classes, len(audit), len(candidates), entries),
    }
    return PseudoLabels(version.id, entries, record, min(finite) if finite else None)


def _note(
    version_id: int,
    thresholds: PseudoThresholds,
    classes: list[str],
    audit_size: int,
    candidates: int,
    entries: list[PseudoEntry],
) -> str | None:
    """Why no pseudo-labels were added, in words; ``None`` when some were."""
    if entries:
        return None
    if candidates == 0:
        return (
            f"no pseudo-labels added: every item with a suggestion from model version "
            f"{version_id} is labelled or rejected already"
        )
    if all(math.isinf(t) for t in thresholds.thresholds.values()):
        needed = audit_labels_needed(thresholds.target_error)
        per_class = ", ".join(f"{classes[c]} {n}" for c, n in thresholds.audit_counts.items())
        return (
            f"no pseudo-labels added: no class kept the estimated error under "
            f"{thresholds.target_error:.1%} on the audit set, which holds {audit_size} audit "
            f"labels on model version {version_id}'s suggestions ({per_class}); a class needs "
            f"at least {needed} audit items predicted as it, all correct, and more if some "
            f"are wrong (label more items from the queue, whose audit share is random)"
        )
    return "no pseudo-labels added: no unlabelled item is as confident as its class's threshold"


def create_pseudo_snapshot(
    session: Session,
    project: Project,
    name: str | None = None,
    *,
    version_id: int | None = None,
    target_error: float = DEFAULT_TARGET_ERROR,
    cap_per_class: int | None = None,
) -> Snapshot:
    """A snapshot of the human labels plus pseudo-labels from a version's suggestions.

    The snapshot is made even when no pseudo-label qualifies; its ``pseudo["note"]`` says why.

    Raises
    ------
    store.errors.NotFoundError
        No such version, or no active one.
    store.errors.ValidationError
        Nothing to snapshot, a bad target error or cap.
    store.errors.DuplicateError
        A snapshot of that name exists.
    """
    resolution = resolve_labels(session, project.id)
    if not resolution.labels:
        raise ValidationError("nothing to snapshot: no item has a resolved human label yet")
    plan = plan_pseudo_labels(
        session,
        project,
        resolution,
        version_id=version_id,
        target_error=target_error,
        cap_per_class=cap_per_class,
    )
    return create_snapshot(session, project.id, name, pseudo=plan, resolution=resolution)
