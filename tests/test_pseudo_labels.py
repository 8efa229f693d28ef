"""Pseudo-labels in snapshots: thresholds from the audit set, a human label always wins, train
split only, a record of how they were chosen, and a clear word when none qualify.

The pool is planted in the database (no media is read): 40 imported labels, 360 unlabelled items
with suggestions of one model version (predicted class by parity, confidence falling from 0.999
to 0.6 along the pool); every third item, up to ``audited`` of them, labelled by a person through
the audit stream, who agrees with the suggestion except on some of the least confident.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import insert, select

from prelabel.pseudo_labels import audit_labels_needed, create_pseudo_snapshot
from store import catalog
from store.catalog import ItemRow
from store.engine import transaction
from store.errors import NotFoundError, ValidationError
from store.models import Annotation, ModelVersion, Project, SnapshotEntry, Suggestion
from store.projects import ensure_user
from store.snapshots import create_snapshot, snapshot_entries
from store.suggestions import SuggestionRow, insert_suggestions

CLASSES = ["a", "b"]
IMPORTED = 40
POOL = 360


@dataclass
class Pool:
    project_id: int
    version_id: int
    imported: list[int]
    unlabelled: list[int]
    audited: list[int]
    suggestion_of: dict[int, int]

    def predicted(self, item_id: int) -> str:
        return CLASSES[self.unlabelled.index(item_id) % 2]


def _act(engine, item_id: int, user: str, action: str, label=None, *, audit: bool = False) -> int:
    with transaction(engine) as session:
        user_id = ensure_user(session, user).id
        return session.execute(
            insert(Annotation)
            .values(item_id=item_id, user_id=user_id, action=action, label=label, audit=audit)
            .returning(Annotation.id)
        ).scalar_one()


def _pool(engine, make_project, *, audited: int, name: str = "pool") -> Pool:
    project_id = make_project(name, "crop", CLASSES)
    with transaction(engine) as session:
        source = catalog.add_source(session, project_id, "/nowhere/p.h5", "hdf5", "f" * 64, 1)
        locators = [f"d[{i}]" for i in range(IMPORTED + POOL)]
        catalog.insert_items(
            session, source, [ItemRow(loc, "d", i) for i, loc in enumerate(locators)]
        )
        ids = catalog.item_ids(session, source.id, locators)
        items = [ids[loc] for loc in locators]
        version = ModelVersion(
            project_id=project_id,
            arch="lenet5",
            checkpoint_uri="/nowhere/v.pt",
            checkpoint_sha256="0" * 64,
            classes=CLASSES,
            status="active",
        )
        session.add(version)
        session.flush()
        unlabelled = items[IMPORTED:]
        rows = []
        for rank, item_id in enumerate(unlabelled):
            # confidence falls with rank, from 0.999 down to about 0.6
            sure = 0.999 - 0.4 * rank / POOL
            p = [sure, 1 - sure] if rank % 2 == 0 else [1 - sure, sure]
            rows.append(SuggestionRow(item_id, CLASSES[rank % 2], p, sure, abs(2 * sure - 1), 0.1))
        insert_suggestions(session, version.id, rows)
        suggestion_of = dict(
            session.execute(
                select(Suggestion.item_id, Suggestion.id).where(
                    Suggestion.model_version_id == version.id
                )
            ).all()
        )
        version_id = version.id
    for n, item_id in enumerate(items[:IMPORTED]):
        _act(engine, item_id, "import", "import", CLASSES[n % 2])
    picked = unlabelled[::3][:audited]
    pool = Pool(project_id, version_id, items[:IMPORTED], unlabelled, picked, suggestion_of)
    for item_id in picked:
        rank = unlabelled.index(item_id)
        if rank >= 240 and rank % 12 == 0:  # unsure and wrong
            other = CLASSES[(rank + 1) % 2]
            _act(engine, item_id, "ann", "edit", other, audit=True)
        else:
            _act(engine, item_id, "ann", "accept", pool.predicted(item_id), audit=True)
    return pool


def _snapshot(engine, pool: Pool, **kwargs):  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        project = session.get(Project, pool.project_id)
        snap = create_pseudo_snapshot(session, project, **kwargs)
        return snap, snapshot_entries(session, snap.id)


def test_pseudo_labels_pass_audit_thresholds_with_provenance(engine, make_project) -> None:
    pool = _pool(engine, make_project, audited=120)
    snap, entries = _snapshot(engine, pool, target_error=0.1)
    pseudo = [e for e in entries if e.origin == "pseudo"]
    human = [e for e in entries if e.origin == "human"]
    record = snap.pseudo
    assert len(human) == IMPORTED + 120 and pseudo
    assert all(e.split == "train" for e in pseudo)  # val and test stay human
    assert all(e.suggestion_id == pool.suggestion_of[e.item_id] for e in pseudo)
    assert all(e.annotation_id is None and e.label == pool.predicted(e.item_id) for e in pseudo)
    assert not {e.item_id for e in pseudo} & set(pool.audited)
    assert record["audit_size"] == 120 and record["audit_by_class"] == {"a": 60, "b": 60}
    assert record["model_version"] == pool.version_id == snap.pseudo_model_version_id
    assert set(record["thresholds"]) == {"a", "b"} and record["note"] is None
    assert snap.pseudo_threshold == min(t for t in record["thresholds"].values())
    assert all(0.9 <= p <= 1.0 for p in record["precision"].values())
    assert 0.9 <= record["estimated_precision"] <= 1.0
    assert 0 < record["coverage"] < 1  # the wrong, unsure audit answers keep the bottom out
    assert record["candidates"] == POOL - 120
    assert record["accepted"] == len(pseudo) == sum(record["by_label"].values())
    assert record["coverage"] == pytest.approx(len(pseudo) / (POOL - 120))
    assert (
        record["by_label"]
        == {c: sum(1 for e in pseudo if e.label == c) for c in CLASSES}
        == snap.counts["pseudo_by_label"]
    )
    assert snap.counts["by_origin"] == {"human": IMPORTED + 120, "pseudo": len(pseudo)}
    # every accepted item is at least as confident as its class's threshold
    with transaction(engine) as session:
        confidence = dict(
            session.execute(
                select(Suggestion.item_id, Suggestion.confidence).where(
                    Suggestion.model_version_id == pool.version_id
                )
            ).all()
        )
    assert all(confidence[e.item_id] >= record["thresholds"][e.label] for e in pseudo)


def test_cap_per_class_limits_each_class(engine, make_project) -> None:
    pool = _pool(engine, make_project, audited=120)
    snap, entries = _snapshot(engine, pool, target_error=0.1, cap_per_class=7)
    assert snap.pseudo["by_label"] == {"a": 7, "b": 7} and snap.pseudo["cap_per_class"] == 7
    assert sum(e.origin == "pseudo" for e in entries) == 14


def test_human_label_wins_and_a_contradicted_pseudo_label_is_dropped(engine, make_project) -> None:
    pool = _pool(engine, make_project, audited=120)
    _, first = _snapshot(engine, pool, target_error=0.1)
    pseudo = [e for e in first if e.origin == "pseudo"]
    relabelled, rejected = pseudo[0], pseudo[1]
    other = "b" if relabelled.label == "a" else "a"
    edit = _act(engine, relabelled.item_id, "ann", "edit", other)
    _act(engine, rejected.item_id, "ann", "reject")
    _, second = _snapshot(engine, pool, target_error=0.1)
    by_item = {e.item_id: e for e in second}
    assert (by_item[relabelled.item_id].origin, by_item[relabelled.item_id].label) == (
        "human",
        other,
    )
    assert by_item[relabelled.item_id].annotation_id == edit
    assert rejected.item_id not in by_item  # rejected by a person: never pseudo-labelled


def test_pseudo_entries_on_human_labelled_items_are_dropped_by_the_store(
    engine, make_project
) -> None:
    from store.snapshots import PseudoEntry, PseudoLabels

    pool = _pool(engine, make_project, audited=0)
    imported = pool.imported[0]
    rejected = pool.unlabelled[0]
    _act(engine, rejected, "ann", "reject")
    free = pool.unlabelled[1]
    plan = PseudoLabels(
        pool.version_id,
        [
            PseudoEntry(imported, "b", pool.suggestion_of[pool.unlabelled[2]]),
            PseudoEntry(rejected, "a", pool.suggestion_of[rejected]),
            PseudoEntry(free, "b", pool.suggestion_of[free]),
        ],
        {"note": None},
        0.9,
    )
    with transaction(engine) as session:
        snap = create_snapshot(session, pool.project_id, pseudo=plan)
        entries = {e.item_id: e for e in snapshot_entries(session, snap.id)}
    assert entries[imported].origin == "human" and entries[imported].label == "a"
    assert rejected not in entries
    assert (entries[free].origin, entries[free].split) == ("pseudo", "train")


def test_too_small_audit_set_still_snapshots_and_says_why(engine, make_project) -> None:
    pool = _pool(engine, make_project, audited=20)
    snap, entries = _snapshot(engine, pool)
    note = snap.pseudo["note"]
    assert all(e.origin == "human" for e in entries) and len(entries) == IMPORTED + 20
    assert snap.pseudo_threshold is None and snap.pseudo["accepted"] == 0
    assert snap.pseudo["thresholds"] == {"a": None, "b": None}
    assert snap.pseudo["audit_needed_per_class"] == audit_labels_needed(0.02) == 149
    assert "no pseudo-labels added" in note and "20 audit labels" in note
    assert "at least 149 audit items" in note


def test_same_labels_give_the_same_hash_with_pseudo_labels(engine, make_project) -> None:
    pool = _pool(engine, make_project, audited=120)
    first, _ = _snapshot(engine, pool, target_error=0.1)
    second, _ = _snapshot(engine, pool, target_error=0.1)
    with transaction(engine) as session:
        human_only = create_snapshot(session, pool.project_id)
    third, _ = _snapshot(engine, pool, target_error=0.1, cap_per_class=3)
    assert first.manifest_sha256 == second.manifest_sha256
    assert human_only.manifest_sha256 != first.manifest_sha256 != third.manifest_sha256


def test_audit_items_the_version_trained_on_do_not_count(engine, make_project) -> None:
    pool = _pool(engine, make_project, audited=120)
    with transaction(engine) as session:
        trained_on = create_snapshot(session, pool.project_id)
        session.flush()
        version = session.get(ModelVersion, pool.version_id)
        # the store refuses updates of snapshots, not of versions: point the version at it
        version.snapshot_id = trained_on.id
        in_train = set(
            session.scalars(
                select(SnapshotEntry.item_id).where(
                    SnapshotEntry.snapshot_id == trained_on.id, SnapshotEntry.split == "train"
                )
            )
        )
    snap, _ = _snapshot(engine, pool, target_error=0.1)
    assert snap.pseudo["audit_size"] == len(set(pool.audited) - in_train) < 120


def test_rejected_audit_items_count_as_errors(engine, make_project) -> None:
    pool = _pool(engine, make_project, audited=120)
    before, _ = _snapshot(engine, pool, target_error=0.1)
    confident = [i for i in pool.unlabelled[:60] if i not in pool.audited][:20]
    for item_id in confident:  # sure but wrong: people rejected them on audit picks
        _act(engine, item_id, "ann", "reject", audit=True)
    after, _ = _snapshot(engine, pool, target_error=0.1)
    assert after.pseudo["audit_size"] == 140
    assert after.pseudo["accepted"] < before.pseudo["accepted"]


def test_bad_target_error_is_rejected(engine, make_project) -> None:
    pool = _pool(engine, make_project, audited=0)
    with pytest.raises(ValidationError, match="target error"):
        _snapshot(engine, pool, target_error=1.5)
    with pytest.raises(ValidationError, match="cap per class"):
        _snapshot(engine, pool, cap_per_class=-1)


def test_pseudo_labels_without_a_model_version_is_rejected(engine, make_project) -> None:
    pool = _pool(engine, make_project, audited=0)
    with pytest.raises(NotFoundError, match="no model version 999"):
        _snapshot(engine, pool, version_id=999)


def test_default_cap_keeps_a_lone_class_from_swamping_the_minority() -> None:
    import math

    import numpy as np

    from learner.pseudo import PseudoThresholds
    from prelabel.pseudo_labels import default_cap
    from store.snapshots import Resolution, ResolvedLabel

    # only class a passes (b has no threshold); people labelled 5 of b and 50 of a
    humans = [ResolvedLabel(i, f"k{i}", "b" if i < 5 else "a", None, None, i) for i in range(55)]
    thresholds = PseudoThresholds({0: 0.9, 1: math.inf}, {0: 1.0, 1: math.nan}, {0: 40, 1: 3}, 0.02)
    confidence = np.full(500, 0.95)
    predicted = np.zeros(500, dtype=np.int64)
    cap = default_cap(confidence, predicted, thresholds, Resolution(humans, 0, 0), CLASSES)
    assert cap == 15  # 3 x the 5 human labels of b, not all 500 passing items of a
