"""Annotations and snapshots hold against every write that could rewrite or empty them.

Besides UPDATE and DELETE: SQLite's REPLACE (which deletes the row it replaces without firing
delete triggers) and PostgreSQL's TRUNCATE (which fires no row triggers).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import DatabaseError

from store.annotations import Action, record
from store.deletion import delete_target
from store.engine import transaction
from store.models import Annotation, Item, Project, Snapshot, SnapshotEntry, Source
from store.projects import create_project, ensure_user

ROWS = {
    "annotation": "SELECT id, label FROM annotation ORDER BY id",
    "snapshot": "SELECT id, name, manifest_sha256 FROM snapshot ORDER BY id",
    "snapshot_entry": "SELECT id, label FROM snapshot_entry ORDER BY id",
}
REPLACES = {
    "annotation": "{verb} annotation (id, item_id, user_id, action, label, audit, created_at) "
    "SELECT id, item_id, user_id, action, 'b', audit, created_at FROM annotation",
    "snapshot": "{verb} snapshot (project_id, name, manifest_sha256, counts, created_at) "
    "SELECT project_id, name, 'forged', counts, created_at FROM snapshot",
    "snapshot_entry": "{verb} snapshot_entry (id, snapshot_id, item_id, label, origin, split) "
    "SELECT id, snapshot_id, item_id, 'b', origin, split FROM snapshot_entry",
}


def _labelled(engine: Engine, name: str = "p", *, snapshot: bool = True) -> int:
    """A project with one item, one annotation and (with ``snapshot``) a snapshot of it."""
    with transaction(engine) as session:
        project = create_project(session, name, "crop", ["a", "b"])
        user = ensure_user(session, "ann")
        source = Source(
            project_id=project.id, uri=f"/{name}.h5", kind="hdf5", sha256="0" * 64, size_bytes=1
        )
        session.add(source)
        session.flush()
        item = Item(project_id=project.id, source_id=source.id, locator="d[0]")
        session.add(item)
        session.flush()
        (annotation_id,) = record(session, project, user, [Action(item.id, "accept", "a")])
        if snapshot:
            frozen = Snapshot(project_id=project.id, name="s1", manifest_sha256="f" * 64)
            session.add(frozen)
            session.flush()
            session.execute(
                insert(SnapshotEntry).values(
                    snapshot_id=frozen.id,
                    item_id=item.id,
                    label="a",
                    origin="human",
                    annotation_id=annotation_id,
                    split="train",
                )
            )
        return project.id


def _rows(engine: Engine) -> dict[str, list]:
    with engine.connect() as connection:
        return {table: connection.execute(text(q)).all() for table, q in ROWS.items()}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("verb", ["REPLACE INTO", "INSERT OR REPLACE INTO"])
@pytest.mark.parametrize("table", list(REPLACES))
def test_replace_of_an_append_only_row_is_rejected(engine: Engine, table: str, verb: str) -> None:
    _labelled(engine)
    before = _rows(engine)
    with (
        pytest.raises(DatabaseError, match="append-only|immutable"),
        transaction(engine) as session,
    ):
        session.execute(text(REPLACES[table].format(verb=verb)))
    assert _rows(engine) == before


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("cascade", ["", " CASCADE"])
@pytest.mark.parametrize("table", ["annotation", "snapshot", "snapshot_entry", "item"])
def test_truncate_of_an_append_only_table_is_rejected(
    engine: Engine, table: str, cascade: str
) -> None:
    _labelled(engine)
    before = _rows(engine)
    # without CASCADE, a table another one references is refused by its foreign keys first
    with (
        pytest.raises(DatabaseError, match="append-only|immutable|cannot truncate"),
        transaction(engine) as session,
    ):
        session.execute(text(f"TRUNCATE {table}{cascade}"))
    assert _rows(engine) == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE annotation SET label = 'b'",
        "DELETE FROM annotation",
        "UPDATE snapshot SET name = 'forged'",
        "UPDATE snapshot_entry SET label = 'b'",
        "DELETE FROM snapshot_entry",
    ],
)
def test_update_or_delete_of_an_append_only_row_is_rejected(engine: Engine, statement: str) -> None:
    _labelled(engine)
    before = _rows(engine)
    with (
        pytest.raises(DatabaseError, match="append-only|immutable"),
        transaction(engine) as session,
    ):
        session.execute(text(statement))
    assert _rows(engine) == before


def test_new_annotations_and_snapshots_are_still_written(engine: Engine) -> None:
    _labelled(engine, "p")
    _labelled(engine, "q")
    counts = _rows(engine)
    assert [len(counts[t]) for t in ROWS] == [2, 2, 2]


def test_forced_delete_still_removes_annotations(engine: Engine) -> None:
    project_id = _labelled(engine, "p", snapshot=False)
    with transaction(engine) as session:
        project = session.get_one(Project, project_id)
        report = delete_target(
            session, project, "project", actor="admin", reason="wrong data", force=True
        )
    assert report.annotations == 1
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0
