"""Snapshots: resolution across annotators, stable splits, manifest hash, immutability."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DatabaseError

from prelabel.ingest import ingest
from store.engine import transaction
from store.errors import ValidationError
from store.models import Annotation
from store.projects import ensure_user
from store.snapshots import (
    assign_splits,
    create_snapshot,
    resolve_labels,
    snapshot_entries,
    split_of,
)


@pytest.fixture
def piped(engine, make_project, shared_data) -> int:
    project_id = make_project("piped", "crop", ["defect", "no_defect"])
    ingest(engine, "piped", [shared_data / "crops/piped"], progress=False)
    return project_id


def _act(
    engine, item_id: int, user: str, action: str, label: str | None = None, undoes=None
) -> int:
    with transaction(engine) as session:
        user_id = ensure_user(session, user).id
        return session.execute(
            insert(Annotation)
            .values(item_id=item_id, user_id=user_id, action=action, label=label, undoes_id=undoes)
            .returning(Annotation.id)
        ).scalar_one()


def _first_item(engine, project_id: int) -> int:
    with transaction(engine) as session:
        return session.execute(
            text("SELECT min(id) FROM item WHERE project_id = :p"), {"p": project_id}
        ).scalar_one()


def _resolved(engine, project_id: int, item_id: int):
    with transaction(engine) as session:
        resolution = resolve_labels(session, project_id)
    return next((r for r in resolution.labels if r.item_id == item_id), None), resolution


def test_latest_action_per_annotator_then_majority(engine, piped) -> None:
    item = _first_item(engine, piped)  # imported as 'defect'
    _act(engine, item, "ann", "edit", "no_defect")
    _act(engine, item, "bob", "accept", "no_defect")
    label, _ = _resolved(engine, piped, item)
    assert label.label == "no_defect"  # two annotators against the import


def test_tie_is_left_out_and_counted(engine, piped) -> None:
    item = _first_item(engine, piped)
    _act(engine, item, "ann", "edit", "no_defect")
    label, resolution = _resolved(engine, piped, item)
    assert label is None and resolution.ties == 1


def test_undo_restores_the_earlier_vote(engine, piped) -> None:
    item = _first_item(engine, piped)
    _act(engine, item, "ann", "edit", "no_defect")
    wrong = _act(engine, item, "bob", "edit", "no_defect")
    _act(engine, item, "bob", "undo", undoes=wrong)
    _act(engine, item, "bob", "skip")
    label, resolution = _resolved(engine, piped, item)
    assert label is None and resolution.ties == 1  # import 'defect' vs ann 'no_defect'


def test_reject_votes_for_no_label(engine, piped) -> None:
    item = _first_item(engine, piped)
    _act(engine, item, "import", "reject")  # the only annotator takes the label back
    label, resolution = _resolved(engine, piped, item)
    assert label is None and resolution.rejected == 1


def test_same_labels_give_same_hash_and_splits_are_stable(engine, piped) -> None:
    with transaction(engine) as session:
        first = create_snapshot(session, piped)
    with transaction(engine) as session:
        second = create_snapshot(session, piped, name="again")
    assert first.manifest_sha256 == second.manifest_sha256 and second.parent_id == first.id
    assert first.name == "s1" and first.counts["entries"] == 384
    item = _first_item(engine, piped)
    _act(engine, item, "ann", "edit", "no_defect")
    _act(engine, item, "bob", "edit", "no_defect")
    with transaction(engine) as session:
        third = create_snapshot(session, piped)
        entries = {e.item_id: e.split for e in snapshot_entries(session, third.id)}
        before = {e.item_id: e.split for e in snapshot_entries(session, first.id)}
    assert third.manifest_sha256 != first.manifest_sha256
    assert entries == before  # an item keeps its split
    shares = {s: sum(1 for v in entries.values() if v == s) / 384 for s in ("train", "val", "test")}
    assert 0.6 < shares["train"] < 0.8 and 0.08 < shares["test"] < 0.22


def test_snapshot_entries_cannot_change_is_rejected(engine, piped) -> None:
    with transaction(engine) as session:
        create_snapshot(session, piped)
    for statement in (
        "UPDATE snapshot_entry SET label = 'x'",
        "DELETE FROM snapshot_entry",
        "UPDATE snapshot SET name = 'x'",
    ):
        with pytest.raises(DatabaseError, match="immutable"), transaction(engine) as session:
            session.execute(text(statement))


def test_snapshot_without_labels_is_rejected(engine, make_project) -> None:
    project_id = make_project("empty", "crop", ["a"])
    with (
        pytest.raises(ValidationError, match="nothing to snapshot"),
        transaction(engine) as session,
    ):
        create_snapshot(session, project_id)


def test_small_classes_get_val_and_test_items() -> None:
    from store.snapshots import ResolvedLabel

    labels = [
        ResolvedLabel(i, f"k{i}", "rare" if i < 3 else "common", None, None, i) for i in range(40)
    ]
    splits = assign_splits(labels)
    rare = sorted(splits[i] for i in range(3))
    assert {"test", "val"} <= set(rare)
    assert all(splits[i] == split_of(f"k{i}") for i in range(3, 40))
