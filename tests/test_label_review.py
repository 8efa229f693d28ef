"""Label review: planted wrong labels are found out of fold and stored once; the issue queue's
repository functions (add, list, resolve)."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from sqlalchemy import func, select

from learner.training import TrainConfig
from prelabel.ingest import ingest
from prelabel.label_review import (
    MIN_LABELS_PER_CLASS,
    find_label_issues_for,
    review_is_worthwhile,
)
from prelabel.train import train_model
from store import label_issues
from store.engine import transaction
from store.errors import NotFoundError, ValidationError
from store.label_issues import NewIssue
from store.models import Annotation, LabelIssue
from store.snapshots import create_snapshot, snapshot_entries

CLASSES = ["dark", "spot"]
CROPS = 300
FLIPPED = 15


def write_separable_crops(folder: Path, n: int, flipped: int, seed: int = 0) -> set[int]:
    """An HDF5 store of noisy crops, with a bright disc near the middle in class ``spot`` and
    none in ``dark``, and its index CSV with ``flipped`` labels swapped; returns the positions
    of the swapped ones.

    The classes are easy on purpose: a label the fold models dispute is then one that was
    planted wrong, not one the data leaves ambiguous."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 2, n)
    wrong = set(rng.choice(n, flipped, replace=False).tolist())
    folder.mkdir(parents=True)
    encoded = np.empty(n, dtype=object)
    for i, c in enumerate(classes):
        image = rng.normal(40, 12, (32, 32))
        if c == 1:
            centre = 16 + rng.integers(-5, 6, 2)
            radius, level = int(rng.integers(4, 8)), float(rng.uniform(180, 250))
            cv2.circle(image, (int(centre[0]), int(centre[1])), radius, level, -1)
        ok, buffer = cv2.imencode(".png", np.clip(image, 0, 255).astype(np.uint8))
        encoded[i] = buffer.reshape(-1)
    with h5py.File(folder / "discs.h5", "w") as store:
        store.create_dataset("discs", data=encoded, dtype=h5py.vlen_dtype(np.uint8))
    given = [CLASSES[1 - c] if i in wrong else CLASSES[c] for i, c in enumerate(classes)]
    (folder / "index.csv").write_text(
        "hdf5_file,dataset_name,index,label\n"
        + "".join(f"discs.h5,discs,{i},{label}\n" for i, label in enumerate(given))
    )
    return wrong


@pytest.fixture
def flipped(engine, make_project, tmp_path) -> dict:
    """The separable crops ingested, a snapshot of them and a model version trained on it."""
    wrong = write_separable_crops(tmp_path / "discs", CROPS, FLIPPED)
    project_id = make_project("discs", "crop", CLASSES)
    ingest(engine, "discs", [tmp_path / "discs"], progress=False)
    with transaction(engine) as session:
        snapshot = create_snapshot(session, project_id)
    config = TrainConfig(arch="lenet5", epochs=10, min_epochs=10, seed=0, device="cpu")
    trained = train_model(
        engine, "discs", snapshot.name, config, models_dir=tmp_path / "models", progress=False
    )
    with transaction(engine) as session:
        entries = snapshot_entries(session, snapshot.id)
    reviewed = {e.item_id for e in entries if e.split != "test" and e.position in wrong}
    return {
        "project_id": project_id,
        "version": trained["model_version"],
        "wrong_items": reviewed,
        "entries": entries,
    }


def test_planted_wrong_labels_are_found_and_stored_once(engine, flipped) -> None:
    first = find_label_issues_for(engine, "discs", flipped["version"], folds=3)
    with transaction(engine) as session:
        issues = label_issues.open_issues(session, flipped["project_id"], limit=1000)
        annotations = dict(session.execute(select(Annotation.item_id, Annotation.id)).all())
    found = {i.item_id for i in issues}
    wrong = flipped["wrong_items"]
    assert first["issues_found"] == first["issues_added"] == len(issues) > 0
    assert first["items_checked"] == sum(e.split in ("train", "val") for e in flipped["entries"])
    assert len(found & wrong) >= 0.8 * len(wrong)  # most planted errors are caught
    assert len(found & wrong) >= 0.8 * len(found)  # and they are most of what is flagged
    worst = issues[0]
    assert worst.self_confidence == min(i.self_confidence for i in issues)
    assert all(i.status == "open" and i.model_version_id == flipped["version"] for i in issues)
    assert all(i.suggested != i.label for i in issues if i.item_id in wrong)
    assert all(i.annotation_id == annotations[i.item_id] for i in issues)
    again = find_label_issues_for(engine, "discs", flipped["version"], folds=3)
    assert again["issues_found"] == first["issues_found"] and again["issues_added"] == 0
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(LabelIssue)) == len(issues)


def test_review_of_an_unknown_version_is_rejected(engine, flipped) -> None:
    with pytest.raises(NotFoundError, match="no model version 99"):
        find_label_issues_for(engine, "discs", 99)


def test_review_needs_enough_labels_per_class_and_a_fair_model(flipped) -> None:
    ok, _ = review_is_worthwhile(flipped["entries"], CLASSES)
    few = [e for e in flipped["entries"] if e.label == "dark"][: MIN_LABELS_PER_CLASS - 1]
    short, reason = review_is_worthwhile(
        few + [e for e in flipped["entries"] if e.label == "spot"], CLASSES
    )
    weak, why = review_is_worthwhile(flipped["entries"], CLASSES, macro_f1=0.5)
    assert ok and not short and not weak
    assert "too few human labels" in reason and "dark" in reason
    assert "too weak to judge labels" in why


# --- the issue queue ------------------------------------------------------------------------


def _issue(item_id: int, label: str = "dark", sure: float = 0.1) -> NewIssue:
    return NewIssue(item_id, None, label, "spot", sure)


def test_issues_are_added_once_per_item_and_version(engine, flipped) -> None:
    project, version = flipped["project_id"], flipped["version"]
    items = sorted(e.item_id for e in flipped["entries"])[:3]
    with transaction(engine) as session:
        first = label_issues.add_issues(
            session, project, version, [_issue(items[0], sure=0.2), _issue(items[1], sure=0.05)]
        )
        second = label_issues.add_issues(session, project, version, [_issue(items[0])])
        listed = label_issues.open_issues(session, project)
        count = label_issues.count_open_issues(session, project)
    assert (first, second, count) == (2, 0, 2)
    assert [i.item_id for i in listed] == [items[1], items[0]]  # strongest dispute first


def test_resolving_closes_every_open_issue_on_the_item(engine, flipped, tmp_path) -> None:
    project, version = flipped["project_id"], flipped["version"]
    config = TrainConfig(arch="lenet5", epochs=1, min_epochs=1, device="cpu")
    later = train_model(engine, "discs", "s1", config, models_dir=tmp_path / "m", progress=False)
    item, other = sorted(e.item_id for e in flipped["entries"])[:2]
    with transaction(engine) as session:
        label_issues.add_issues(session, project, version, [_issue(item), _issue(other)])
        label_issues.add_issues(session, project, later["model_version"], [_issue(item)])
        assert len(label_issues.open_issues(session, project)) == 2  # one per item
        newest = next(i for i in label_issues.open_issues(session, project) if i.item_id == item)
        assert newest.model_version_id == later["model_version"]
        resolved = label_issues.resolve_issue(session, newest.id, "kept")
        left = label_issues.open_issues(session, project)
        statuses = sorted(
            session.scalars(select(LabelIssue.status).where(LabelIssue.item_id == item))
        )
        # a label a reviewer kept is not raised again, by this version or a later one
        again = label_issues.add_issues(session, project, version + 100, [_issue(item)])
    assert resolved.status == "kept" and [i.item_id for i in left] == [other]
    assert statuses == ["kept", "kept"] and again == 0


def test_resolving_with_an_unknown_status_is_rejected(engine, flipped) -> None:
    with transaction(engine) as session:
        with pytest.raises(ValidationError, match="kept or relabelled"):
            label_issues.resolve_issue(session, 1, "ignored")
        with pytest.raises(NotFoundError, match="no label issue 12345"):
            label_issues.resolve_issue(session, 12345, "kept")
