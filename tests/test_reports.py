"""Project summaries for the annotator's pages, on the real crop data set and both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from prelabel.ingest import ingest
from store import reports
from store.accounts import add_user
from store.annotations import Action, record, undo_last
from store.catalog import ItemRow, add_source, insert_items, item_ids, record_ingest_error
from store.engine import transaction
from store.models import Annotation, IngestError, Item, ModelVersion, Project, User
from store.snapshots import create_snapshot

CLASSES = ["defect", "no_defect"]
NOW = dt.datetime(2025, 3, 14, 12, 30, tzinfo=dt.UTC)


@pytest.fixture
def piped(engine: Engine, make_project, shared_data: Path, tmp_path: Path) -> int:  # type: ignore[no-untyped-def]
    """The 384 labelled crops of the real data set, ingested into project ``piped``."""
    project_id = make_project("piped", "crop", CLASSES)
    report = ingest(
        engine,
        "piped",
        [shared_data / "crops/piped"],
        progress=False,
        derived_dir=tmp_path / "derived",
    )
    assert report.items_added == 384
    return project_id


def _items(engine: Engine, project_id: int, n: int) -> list[int]:
    with transaction(engine) as session:
        return list(
            session.scalars(
                select(Item.id).where(Item.project_id == project_id).order_by(Item.id).limit(n)
            )
        )


def _project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    assert project is not None
    return project


def _act(engine: Engine, project_id: int, name: str, actions: list[Action]) -> list[int]:
    with transaction(engine) as session:
        user, _ = add_user(session, name, "annotator", None)
        return record(session, _project(session, project_id), user, actions)


def test_annotations_per_user_counts_actions_and_time(engine: Engine, piped: int) -> None:
    a, b, c, d, e = _items(engine, piped, 5)
    _act(
        engine,
        piped,
        "ana",
        [
            Action(a, "accept", "defect", duration_s=2.0),
            Action(b, "accept", "defect", duration_s=3.0),
            Action(c, "reject", duration_s=1.5),
            Action(d, "skip"),
        ],
    )
    _act(engine, piped, "ben", [Action(e, "edit", "no_defect", duration_s=4.0)])
    with transaction(engine) as session:
        ben = session.scalars(select(User).where(User.name == "ben")).one()
        assert undo_last(session, _project(session, piped), ben) == [e]

    with transaction(engine) as session:
        activity = reports.annotations_per_user(session, piped)

    assert [u.user for u in activity] == ["ana", "ben"]  # busiest first, no 'import' user
    ana, ben_activity = activity
    assert ana.by_action == {"accept": 2, "reject": 1, "skip": 1}
    assert ana.total == 4 and ana.time_spent_s == pytest.approx(6.5)
    assert ben_activity.by_action == {"edit": 1, "undo": 1}
    assert ben_activity.time_spent_s == pytest.approx(4.0)


def test_annotations_per_hour_buckets_by_user_and_leaves_out_old_rows(
    engine: Engine, piped: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = _items(engine, piped, 6)

    def act_at(when: dt.datetime, name: str, actions: list[Action]) -> None:
        # annotations are append-only (a trigger refuses updates): write them at a known time
        monkeypatch.setattr("store.annotations.utcnow", lambda: when)
        _act(engine, piped, name, actions)

    act_at(
        NOW.replace(hour=10, minute=5), "ana", [Action(i, "accept", "defect") for i in items[:2]]
    )
    act_at(NOW.replace(hour=11, minute=59, second=59), "ana", [Action(items[2], "reject")])
    act_at(NOW.replace(hour=10, minute=55), "ben", [Action(items[3], "accept", "no_defect")])
    act_at(NOW - dt.timedelta(days=8), "ben", [Action(i, "skip") for i in items[4:]])

    with transaction(engine) as session:
        week = reports.annotations_per_hour(session, piped, days=7, now=NOW)
        month = reports.annotations_per_hour(session, piped, days=30, now=NOW)

    ten, eleven = NOW.replace(hour=10, minute=0), NOW.replace(hour=11, minute=0)
    assert [(h.hour, h.user, h.count) for h in week] == [
        (ten, "ana", 2),
        (ten, "ben", 1),
        (eleven, "ana", 1),
    ]
    assert all(h.hour.tzinfo is not None for h in week)
    assert sum(h.count for h in month) == 6  # the 384 imported labels never count


def test_sources_count_items_and_errors_per_source(engine: Engine, piped: int) -> None:
    with transaction(engine) as session:
        extra = add_source(session, piped, "/data/extra.h5", "hdf5", "f" * 64, 2048)
        insert_items(session, extra, [ItemRow("crops[0]", "crops", 0), ItemRow("crops[1]")])
        broken = item_ids(session, extra.id)["crops[0]"]
        record_ingest_error(
            session, piped, "/data/extra.h5", "bad JPEG", member="crops", item_id=broken
        )
        record_ingest_error(session, piped, "/data/extra.h5", "truncated index")
        record_ingest_error(session, piped, "/data/unknown.bin", "not an image, audio or spectrum")

    with transaction(engine) as session:
        found = reports.sources(session, piped)

    assert [(s.kind, s.items, s.errors) for s in found] == [("hdf5", 384, 0), ("hdf5", 2, 2)]
    assert found[0].uri.endswith("piped_dev.h5") and found[0].complete
    assert found[1].uri == "/data/extra.h5" and not found[1].complete
    assert found[1].size_bytes == 2048


def test_ingest_errors_newest_first_with_a_limit(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id = make_project("calls", "audio", ["a", "b"])
    reasons = ["cannot decode", "empty file", "unknown sample format"]
    with transaction(engine) as session:
        for index, reason in enumerate(reasons):
            record_ingest_error(session, project_id, f"/rec/{index}.wav", reason)
    with transaction(engine) as session:
        ids = list(session.scalars(select(IngestError.id).order_by(IngestError.id)))
        # written in one instant on a coarse clock, or out of id order: the time decides
        for error_id, hours in zip(ids, (2, 0, 1), strict=True):
            session.execute(
                update(IngestError)
                .where(IngestError.id == error_id)
                .values(created_at=NOW - dt.timedelta(hours=hours))
            )

    with transaction(engine) as session:
        everything = reports.ingest_errors(session, project_id)
        newest = reports.ingest_errors(session, project_id, limit=2)
        count = reports.ingest_error_count(session, project_id)

    assert [e.reason for e in everything] == [
        "empty file",
        "unknown sample format",
        "cannot decode",
    ]
    assert [e.reason for e in newest] == ["empty file", "unknown sample format"]
    assert everything[0].created_at == NOW and everything[0].path == "/rec/1.wav"
    assert count == 3


def _version(session, project_id: int, status: str, evaluation: dict | None) -> int:  # type: ignore[no-untyped-def]
    version = ModelVersion(
        project_id=project_id,
        arch="lenet5",
        checkpoint_uri="/models/x.pt",
        checkpoint_sha256="0" * 64,
        classes=CLASSES,
        metrics={"val_loss": 0.3} | ({"evaluation": evaluation} if evaluation else {}),
        temperature=None if evaluation is None else evaluation["temperature"],
        status=status,
    )
    session.add(version)
    session.flush()
    return version.id


def test_model_versions_newest_first_with_their_evaluation(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id = make_project("piped", "crop", CLASSES)
    evaluation = {
        "macro_f1": 0.91,
        "accuracy": 0.92,
        "ece": 0.08,
        "ece_calibrated": 0.02,
        "temperature": 1.7,
        "confusion_matrix": [[20, 2], [1, 22]],
        "per_class": {},
        "report_dir": "/models/version-1",
    }
    with transaction(engine) as session:
        active = _version(session, project_id, "active", evaluation)
        newest = _version(session, project_id, "candidate", None)

    with transaction(engine) as session:
        versions = reports.model_versions(session, project_id)

    assert [v.id for v in versions] == [newest, active]
    assert not versions[0].evaluated and versions[0].macro_f1 is None
    shown = reports.shown_version(versions)
    assert shown is not None and shown.id == active
    assert (shown.macro_f1, shown.ece, shown.ece_calibrated) == (0.91, 0.08, 0.02)
    assert shown.temperature == 1.7 and shown.report_dir == "/models/version-1"
    assert shown.evaluation["confusion_matrix"] == [[20, 2], [1, 22]]
    only_candidate = reports.shown_version(versions[:1])  # no active one: the newest
    assert only_candidate is not None and only_candidate.id == newest


def test_snapshots_newest_first_with_counts(engine: Engine, piped: int) -> None:
    with transaction(engine) as session:
        first = create_snapshot(session, piped).id
    with transaction(engine) as session:
        item = session.scalars(
            select(Annotation.item_id).where(Annotation.label == "defect").limit(1)
        ).one()
    # against the imported 'defect', one vote each: the item is left out as a tie
    _act(engine, piped, "ana", [Action(item, "edit", "no_defect")])
    with transaction(engine) as session:
        second = create_snapshot(session, piped, "after-review").id

    with transaction(engine) as session:
        found = reports.snapshots(session, piped)

    assert [s.id for s in found] == [second, first]
    newest, oldest = found
    assert oldest.parent_id is None and newest.parent_id == first
    assert oldest.entries == 384 and oldest.by_label == {"defect": 192, "no_defect": 192}
    assert sum(oldest.by_split.values()) == 384 and oldest.by_origin == {"human": 384}
    assert newest.name == "after-review" and newest.entries == 383
    assert newest.ties_left_out == 1 and newest.by_label == {"defect": 191, "no_defect": 192}
    assert newest.manifest_sha256 != oldest.manifest_sha256
    assert newest.pseudo_threshold is None and newest.pseudo_model_version_id is None


def test_an_empty_project_has_nothing_to_report(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id = make_project("empty", "spectrum", ["x"])
    with transaction(engine) as session:
        assert reports.annotations_per_user(session, project_id) == []
        assert reports.annotations_per_hour(session, project_id) == []
        assert reports.sources(session, project_id) == []
        assert reports.ingest_errors(session, project_id, limit=5) == []
        assert reports.ingest_error_count(session, project_id) == 0
        assert reports.model_versions(session, project_id) == []
        assert reports.shown_version([]) is None
        assert reports.snapshots(session, project_id) == []


def _suggest(session, version_id: int, labels: dict[int, str]) -> None:  # type: ignore[no-untyped-def]
    from store.suggestions import SuggestionRow, insert_suggestions

    insert_suggestions(
        session,
        version_id,
        [SuggestionRow(i, label, [0.5, 0.5], 0.5, 0.0, 0.69) for i, label in labels.items()],
    )


def test_learning_curve_follows_evaluated_versions_and_their_human_labels(
    engine: Engine, piped: int
) -> None:
    with transaction(engine) as session:
        snapshot = create_snapshot(session, piped)
        evaluated = _version(
            session, piped, "active", {"macro_f1": 0.8, "temperature": 1.0, "test_items": 60}
        )
        _version(session, piped, "candidate", None)  # not evaluated: not on the curve
        session.execute(
            update(ModelVersion)
            .where(ModelVersion.project_id == piped)
            .values(snapshot_id=snapshot.id)
        )

    with transaction(engine) as session:
        curve = reports.learning_curve(session, piped)

    assert [p.version_id for p in curve] == [evaluated]
    assert (curve[0].human_labels, curve[0].pseudo_labels) == (384, 0)
    assert (curve[0].macro_f1, curve[0].test_items) == (0.8, 60)


def test_stop_set_pairs_successive_versions_on_the_same_random_items(
    engine: Engine, piped: int
) -> None:
    items = _items(engine, piped, 40)
    with transaction(engine) as session:
        first = _version(session, piped, "retired", None)
        silent = _version(session, piped, "retired", None)  # wrote no suggestion: passed over
        second = _version(session, piped, "active", None)
        _suggest(session, first, {i: "defect" for i in items})
        # the second version disagrees on the first ten items and never saw the last five
        _suggest(
            session,
            second,
            {i: ("no_defect" if n < 10 else "defect") for n, i in enumerate(items[:35])},
        )
        rows = session.execute(select(Item.id, Item.random_key).where(Item.id.in_(items)))
        keys = {item: key for item, key in rows}

    with transaction(engine) as session:
        pairs = reports.stop_set_predictions(session, piped, size=20)

    assert len(pairs) == 1 and silent not in (pairs[0].version_id, pairs[0].previous_id)
    pair = pairs[0]
    assert (pair.version_id, pair.previous_id) == (second, first)
    expected = sorted(items[:35], key=lambda i: (keys[i], i))[:20]
    changed = set(items[:10])
    assert pair.labels == ["no_defect" if i in changed else "defect" for i in expected]
    assert pair.previous_labels == ["defect"] * 20


def test_loop_status_counts_audit_labels_and_open_issues(engine: Engine, piped: int) -> None:
    from store.models import LabelIssue

    a, b, c = _items(engine, piped, 3)
    _act(
        engine,
        piped,
        "ana",
        [Action(a, "accept", "defect"), Action(b, "skip"), Action(c, "edit", "defect")],
    )
    with transaction(engine) as session:
        session.execute(
            Annotation.__table__.insert().values(
                item_id=b,
                user_id=1,
                action="accept",
                label="defect",
                audit=True,
                created_at=NOW,
            )
        )
        version = _version(session, piped, "active", None)
        project = _project(session, piped)
        project.settings = dict(project.settings) | {"strategy": "margin", "audit_share": 0.2}
        for item, status in ((a, "open"), (c, "kept")):
            session.add(
                LabelIssue(
                    project_id=piped,
                    item_id=item,
                    model_version_id=version,
                    label="defect",
                    suggested="no_defect",
                    self_confidence=0.05,
                    status=status,
                )
            )

    with transaction(engine) as session:
        status = reports.loop_status(session, piped)

    assert (status.strategy, status.audit_share) == ("margin", 0.2)
    assert status.audit_items == 1 and status.open_label_issues == 1


def test_every_ingested_item_draws_its_own_random_key(engine: Engine, piped: int) -> None:
    with transaction(engine) as session:
        keys = list(session.scalars(select(Item.random_key).where(Item.project_id == piped)))
    assert len(keys) == 384 and all(k is not None and 0.0 <= k < 1.0 for k in keys)
    assert len(set(keys)) == 384
