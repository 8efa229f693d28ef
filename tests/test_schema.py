"""The schema comes from the migrations, matches the models, and keeps data true."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import DatabaseError, IntegrityError

import store.models  # noqa: F401
from store import schema
from store.base import Base
from store.engine import make_engine, transaction
from store.errors import DuplicateError
from store.models import Annotation, Item, ModelVersion, Source, Suggestion
from store.projects import IMPORT_USER, create_project, ensure_user


def _diff(engine: Engine) -> list:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_upgrade_downgrade_upgrade_round_trips_and_matches_models(db_url: str) -> None:
    schema.downgrade(db_url, "base")
    engine = make_engine(db_url)
    with engine.connect() as connection:
        assert "item" not in engine.dialect.get_table_names(connection)
    schema.upgrade(db_url)
    assert schema.current_revision(engine) == schema.head_revision()
    assert _diff(engine) == []
    engine.dispose()


def _one_item(engine: Engine) -> tuple[int, int, int]:
    with transaction(engine) as session:
        project = create_project(session, "p", "crop", ["a", "b"])
        user = ensure_user(session, IMPORT_USER)
        source = Source(
            project_id=project.id, uri="/x.h5", kind="hdf5", sha256="0" * 64, size_bytes=1
        )
        session.add(source)
        session.flush()
        item = Item(project_id=project.id, source_id=source.id, locator="d[0]")
        session.add(item)
        session.flush()
        return project.id, item.id, user.id


def test_annotations_cannot_be_updated_or_deleted_is_rejected(engine: Engine) -> None:
    _, item_id, user_id = _one_item(engine)
    with transaction(engine) as session:
        session.execute(
            insert(Annotation).values(item_id=item_id, user_id=user_id, action="accept", label="a")
        )
    for statement in ("UPDATE annotation SET label = 'b'", "DELETE FROM annotation"):
        with pytest.raises(DatabaseError, match="append-only"), transaction(engine) as session:
            session.execute(text(statement))
    with transaction(engine) as session:
        assert session.execute(text("SELECT label FROM annotation")).scalar_one() == "a"


def test_foreign_keys_are_enforced_is_rejected(engine: Engine) -> None:
    with pytest.raises(IntegrityError), transaction(engine) as session:
        session.add(Item(project_id=999, source_id=999, locator="x"))
        session.flush()


def test_second_suggestion_for_same_item_and_version_is_rejected(engine: Engine) -> None:
    project_id, item_id, _ = _one_item(engine)
    with transaction(engine) as session:
        version = ModelVersion(
            project_id=project_id,
            arch="lenet5",
            checkpoint_uri="/c.pt",
            checkpoint_sha256="0" * 64,
            classes=["a", "b"],
        )
        session.add(version)
        session.flush()
        version_id = version.id
    row = dict(
        item_id=item_id,
        model_version_id=version_id,
        label="a",
        probabilities=[0.9, 0.1],
        confidence=0.9,
        margin=0.8,
        entropy=0.3,
    )
    with transaction(engine) as session:
        session.execute(insert(Suggestion).values(**row))
    with pytest.raises(IntegrityError), transaction(engine) as session:
        session.execute(insert(Suggestion).values(**row))


def test_same_content_twice_in_a_project_is_rejected(engine: Engine) -> None:
    from store.catalog import add_source

    project_id, _, _ = _one_item(engine)
    with pytest.raises(DuplicateError, match="already a source"), transaction(engine) as session:
        add_source(session, project_id, "/elsewhere.h5", "hdf5", "0" * 64, 1)


def test_two_active_versions_in_a_project_is_rejected(engine: Engine) -> None:
    project_id, _, _ = _one_item(engine)
    with pytest.raises(IntegrityError), transaction(engine) as session:
        for _ in range(2):
            session.add(
                ModelVersion(
                    project_id=project_id,
                    arch="lenet5",
                    checkpoint_uri="/c.pt",
                    checkpoint_sha256="0" * 64,
                    classes=["a"],
                    status="active",
                )
            )
            session.flush()
