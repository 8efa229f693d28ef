"""Actions with provenance: rows written, validation, undo of a whole page, added segments."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from store.accounts import add_user
from store.annotations import (
    Action,
    add_segment,
    done_since,
    progress,
    record,
    start_of_day,
    undo_last,
)
from store.catalog import ItemRow, add_source, insert_items, item_ids
from store.engine import transaction
from store.errors import ValidationError
from store.models import Annotation, Item, Project

CLASSES = ["single_burst", "multiple_burst", "harmonic"]


@pytest.fixture
def audio(engine: Engine, make_project):  # type: ignore[no-untyped-def]
    project_id = make_project("calls", "audio", CLASSES)
    with transaction(engine) as session:
        source = add_source(
            session, project_id, "/data/a.wav", "recording", "a" * 64, 1, {"duration_s": 10.0}
        )
        rows = [ItemRow(f"span:{i}.000000-{i}.500000", start_s=i, end_s=i + 0.5) for i in range(4)]
        insert_items(session, source, rows, "proposal")
        ids = list(item_ids(session, source.id).values())
        user, _ = add_user(session, "alice", "annotator", None)
    return project_id, source.id, sorted(ids), user


def test_each_action_writes_one_row_with_provenance(engine: Engine, audio) -> None:  # type: ignore[no-untyped-def]
    project_id, _, ids, user = audio
    with transaction(engine) as session:
        project = session.get(Project, project_id)
        record(
            session,
            project,
            user,
            [Action(ids[0], "edit", "harmonic", 0.1, 0.45, duration_s=3.5)],
        )
    with transaction(engine) as session:
        (row,) = session.scalars(select(Annotation))
        assert (row.user_id, row.action, row.label) == (user.id, "edit", "harmonic")
        assert (row.start_s, row.end_s, row.duration_s) == (0.1, 0.45, 3.5)


def test_label_outside_the_classes_is_rejected(engine: Engine, audio) -> None:  # type: ignore[no-untyped-def]
    project_id, _, ids, user = audio
    with transaction(engine) as session, pytest.raises(ValidationError, match="not a class"):
        record(session, session.get(Project, project_id), user, [Action(ids[0], "accept", "dog")])


def test_span_that_ends_before_it_starts_is_rejected(engine: Engine, audio) -> None:  # type: ignore[no-untyped-def]
    project_id, _, ids, user = audio
    with transaction(engine) as session, pytest.raises(ValidationError, match="before it starts"):
        record(
            session,
            session.get(Project, project_id),
            user,
            [Action(ids[0], "edit", "harmonic", 0.4, 0.2)],
        )


def test_undo_takes_back_the_whole_last_action_only(engine: Engine, audio) -> None:  # type: ignore[no-untyped-def]
    project_id, _, ids, user = audio
    with transaction(engine) as session:
        project = session.get(Project, project_id)
        record(session, project, user, [Action(ids[0], "reject")])
        record(session, project, user, [Action(i, "accept", "single_burst") for i in ids[1:]])
    with transaction(engine) as session:
        assert sorted(undo_last(session, session.get(Project, project_id), user)) == ids[1:]
    with transaction(engine) as session:
        rows = list(session.scalars(select(Annotation).order_by(Annotation.id)))
        undone = {r.undoes_id for r in rows if r.action == "undo"}
        assert undone == {r.id for r in rows if r.action == "accept"}
        assert len(rows) == 1 + 3 + 3  # nothing deleted
        assert progress(session, project_id)["done"] == 1
    with transaction(engine) as session:
        assert undo_last(session, session.get(Project, project_id), user) == [ids[0]]
    with transaction(engine) as session:
        assert undo_last(session, session.get(Project, project_id), user) == []


def test_added_segment_is_a_human_item_with_an_add_row(engine: Engine, audio) -> None:  # type: ignore[no-untyped-def]
    project_id, source_id, _, user = audio
    with transaction(engine) as session:
        item_id, annotation_id = add_segment(
            session,
            session.get(Project, project_id),
            user,
            source_id=source_id,
            start_s=7.25,
            end_s=7.5,
            label="harmonic",
        )
    with transaction(engine) as session:
        item = session.get(Item, item_id)
        assert (item.origin, item.start_s, item.end_s) == ("human", 7.25, 7.5)
        row = session.get(Annotation, annotation_id)
        assert (row.action, row.label, row.item_id) == ("add", "harmonic", item_id)


def test_segment_past_the_end_of_the_recording_is_rejected(engine: Engine, audio) -> None:  # type: ignore[no-untyped-def]
    project_id, source_id, _, user = audio
    with transaction(engine) as session, pytest.raises(ValidationError, match="outside"):
        add_segment(
            session,
            session.get(Project, project_id),
            user,
            source_id=source_id,
            start_s=9.8,
            end_s=10.4,
            label="harmonic",
        )


def test_progress_counts_done_items_by_class(engine: Engine, audio) -> None:  # type: ignore[no-untyped-def]
    project_id, _, ids, user = audio
    with transaction(engine) as session:
        project = session.get(Project, project_id)
        record(session, project, user, [Action(ids[0], "accept", "harmonic")])
        record(session, project, user, [Action(ids[0], "edit", "single_burst", 0.0, 0.4)])
        record(session, project, user, [Action(ids[1], "reject"), Action(ids[2], "skip")])
    with transaction(engine) as session:
        counts = progress(session, project_id)
        assert counts["items"] == 4 and counts["done"] == 2 and counts["left"] == 2
        assert counts["by_class"] == {"single_burst": 1, "(no event)": 1}
        assert done_since(session, project_id, user.id, start_of_day()) == 2
