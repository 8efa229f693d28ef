"""Label-error review: human labels that a model trained without them disputes strongly.

For a model version, the human-labelled train and val items of its snapshot are dealt into K
stratified folds; K models with the version's architecture and settings are each trained on the
other folds and predict the held-out one, so every item gets probabilities from a model that
never saw its label. Confident learning (:func:`learner.label_issues.find_label_issues`) then
flags the labels those probabilities contradict, and they wait in ``label_issue`` for review.

The fold models run a fixed schedule without early stopping (there is no validation split to
stop on without leaking the held-out labels): as many epochs as the version needed to reach its
best validation loss, but at least :data:`REVIEW_MIN_EPOCHS` (a small validation split can
bottom out early by chance) and at most :data:`REVIEW_MAX_EPOCHS` or what the version ran.
They only need to rank how surprising each label is, not to match the version's quality; the
review costs about K times two thirds of the version's own training.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import fields, replace

import numpy as np
from sqlalchemy import Engine

from learner import calibration
from learner.label_issues import LabelIssueError, find_label_issues, out_of_fold_folds
from learner.training import TrainConfig, fit, predict_logits, seed_everything
from prelabel.train import crop_augmenter, snapshot_features
from store.engine import transaction
from store.errors import NotFoundError, ValidationError
from store.label_issues import NewIssue, add_issues
from store.models import ModelVersion
from store.projects import get_project
from store.snapshots import EntryRecord, snapshot_entries

REVIEW_MIN_EPOCHS = 10
REVIEW_MAX_EPOCHS = 30
"""Bounds on the epochs of each fold model (never more than the version itself ran)."""

MIN_LABELS_PER_CLASS = 10
"""The loop reviews labels on its own only when every class has at least this many human
labels in the snapshot's train and val splits: with fewer, each fold model sees a handful of
examples per class and disputes labels for want of data, not because they are wrong."""

MIN_MACRO_F1 = 0.7
"""Nor when the version's test macro-F1 is below this: models that cannot yet tell the classes
apart dispute right labels as readily as wrong ones."""

REVIEWED_SPLITS = ("train", "val")
"""The test split stays out: it is the held-out measure, and reviewing it would tune it."""


def reviewable_entries(entries: list[EntryRecord]) -> list[EntryRecord]:
    """Human-labelled train and val entries: pseudo-labels are the model's own words."""
    return [e for e in entries if e.origin == "human" and e.split in REVIEWED_SPLITS]


def review_is_worthwhile(
    entries: list[EntryRecord], classes: list[str], macro_f1: float | None = None
) -> tuple[bool, str]:
    """Whether every class has :data:`MIN_LABELS_PER_CLASS` reviewable labels and the version's
    test macro-F1 (when given) reaches :data:`MIN_MACRO_F1`; and why (not)."""
    if macro_f1 is not None and macro_f1 < MIN_MACRO_F1:
        return False, (
            f"the model is too weak to judge labels (test macro-F1 {macro_f1:.2f}, "
            f"{MIN_MACRO_F1} needed)"
        )
    counts = Counter(e.label for e in reviewable_entries(entries))
    short = {c: counts.get(c, 0) for c in classes if counts.get(c, 0) < MIN_LABELS_PER_CLASS}
    if not short:
        return True, f"every class has at least {MIN_LABELS_PER_CLASS} human labels"
    listed = ", ".join(f"{c} {n}" for c, n in short.items())
    return False, (
        f"too few human labels to review ({listed}; {MIN_LABELS_PER_CLASS} per class needed)"
    )


def fold_config(version: ModelVersion) -> TrainConfig:
    """The version's training configuration with the fold models' fixed schedule: the epochs
    up to the version's best one, within :data:`REVIEW_MIN_EPOCHS` and
    :data:`REVIEW_MAX_EPOCHS`, never more than the version ran."""
    names = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in version.config.items() if k in names})
    best = int(version.metrics.get("best_epoch", -1))
    ran = int(version.metrics.get("epochs_run", config.epochs))
    wanted = max(best + 1, REVIEW_MIN_EPOCHS) if best >= 0 else ran
    epochs = max(1, min(wanted, ran, REVIEW_MAX_EPOCHS))
    return replace(config, epochs=epochs, min_epochs=epochs, patience=epochs)


def find_label_issues_for(
    engine: Engine,
    project_name: str,
    version_id: int,
    *,
    folds: int = 3,
    max_issues: int | None = None,
    progress: bool = False,
) -> dict:
    """Out-of-fold review of the human labels of a version's snapshot; issues are stored open.

    Idempotent per (item, version): a rerun adds no rows. Returns the version, items checked,
    folds, fold epochs, issues found and issues added, and seconds taken.

    Raises
    ------
    NotFoundError
        No such project, or no such version in it.
    ValidationError
        The version has no snapshot, or its human labels cannot fill the folds or hold fewer
        than two classes.
    """
    from learner.networks import build

    started = time.perf_counter()
    with transaction(engine) as session:
        project = get_project(session, project_name)
        version = session.get(ModelVersion, version_id)
        if version is None or version.project_id != project.id:
            raise NotFoundError(f"no model version {version_id} in project {project_name}")
        if version.snapshot_id is None:
            raise ValidationError(f"model version {version_id} was not trained on a snapshot")
        entries = reviewable_entries(snapshot_entries(session, version.snapshot_id))
    features, kept = snapshot_features(engine, project, entries)
    classes = list(version.classes)
    index = {name: i for i, name in enumerate(classes)}
    y = np.array([index[e.label] for e in kept], dtype=np.int64)
    config = fold_config(version)
    try:
        fold = out_of_fold_folds(y, folds, seed=config.seed)
    except LabelIssueError as e:
        raise ValidationError(f"cannot review the labels of version {version_id}: {e}") from e
    input_shape = (1, *(int(d) for d in features.x.shape[1:]))
    out_of_fold = np.zeros((len(y), len(classes)), dtype=np.float64)
    for k in range(folds):
        held = fold == k
        seed_everything(config.seed + k)
        model = build(
            project.modality, config.arch, n_classes=len(classes), input_shape=input_shape
        )
        result = fit(
            model,
            features.x[~held],
            y[~held],
            features.x[:0],
            y[:0],
            replace(config, seed=config.seed + k),
            n_classes=len(classes),
            augment=crop_augmenter(project),
            progress=progress,
        )
        model.load_state_dict(result.state_dict)
        logits = predict_logits(model, features.x[held], device=config.device)
        out_of_fold[held] = calibration.softmax(logits)
    try:
        found = find_label_issues(y, out_of_fold, max_issues=max_issues)
    except LabelIssueError as e:
        raise ValidationError(f"cannot review the labels of version {version_id}: {e}") from e
    issues = [
        NewIssue(
            item_id=kept[i.index].item_id,
            annotation_id=kept[i.index].annotation_id,
            label=classes[i.given],
            suggested=classes[i.suggested],
            self_confidence=i.self_confidence,
        )
        for i in found
    ]
    with transaction(engine) as session:
        added = add_issues(session, project.id, version_id, issues)
    return {
        "model_version": version_id,
        "items_checked": len(kept),
        "folds": folds,
        "epochs": config.epochs,
        "issues_found": len(issues),
        "issues_added": added,
        "seconds": time.perf_counter() - started,
    }
