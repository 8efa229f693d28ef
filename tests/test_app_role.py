"""The application's PostgreSQL role writes rows but cannot truncate, alter or rewrite tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from loupe.cli import app
from store.annotations import Action, record
from store.app_role import grant_app_role
from store.deletion import delete_target
from store.engine import make_engine, transaction
from store.errors import ValidationError
from store.models import Annotation, Item, Project, Source
from store.projects import create_project, ensure_user

pytestmark = pytest.mark.postgres
ON_POSTGRES = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def app_role(db_url: str) -> Iterator[str]:
    """A role name, dropped (with its grants) after the test."""
    role = f"loupe_app_{uuid.uuid4().hex[:8]}"
    yield role
    with psycopg.connect(db_url, autocommit=True) as owner:
        exists = owner.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if exists:
            owner.execute(f'DROP OWNED BY "{role}"')
            owner.execute(f'DROP ROLE "{role}"')


@pytest.fixture
def as_app(db_url: str, app_role: str) -> Iterator[Engine]:
    """The database upgraded and granted by `loupe db upgrade`, then an engine as the role."""
    result = CliRunner().invoke(app, ["db", "upgrade", "--app-role", app_role, "--db", db_url])
    assert result.exit_code == 0, result.output
    scheme, _, rest = db_url.partition("://")
    engine = make_engine(f"{scheme}://{app_role}@{rest.split('@', 1)[1]}")
    yield engine
    engine.dispose()


def _annotate(engine: Engine) -> int:
    with transaction(engine) as session:
        project = create_project(session, "p", "crop", ["a", "b"])
        user = ensure_user(session, "ann")
        source = Source(
            project_id=project.id, uri="/x.h5", kind="hdf5", sha256="0" * 64, size_bytes=1
        )
        session.add(source)
        session.flush()
        item = Item(project_id=project.id, source_id=source.id, locator="d[0]")
        session.add(item)
        session.flush()
        record(session, project, user, [Action(item.id, "accept", "a")])
        return project.id


@ON_POSTGRES
def test_app_role_records_annotations(as_app: Engine) -> None:
    _annotate(as_app)
    with transaction(as_app) as session:
        assert session.scalars(select(Annotation.label)).all() == ["a"]


@ON_POSTGRES
@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE annotation",
        "TRUNCATE annotation CASCADE",
        "TRUNCATE item CASCADE",
        "ALTER TABLE annotation DISABLE TRIGGER ALL",
        "ALTER TABLE annotation DISABLE TRIGGER annotation_append_only",
        "UPDATE annotation SET label = 'b'",
        "DROP TABLE annotation CASCADE",
        "DELETE FROM alembic_version",
    ],
)
def test_app_role_rewriting_annotations_is_rejected(as_app: Engine, statement: str) -> None:
    _annotate(as_app)
    with (
        pytest.raises(DatabaseError, match="permission denied|must be owner"),
        transaction(as_app) as session,
    ):
        session.execute(text(statement))
    with transaction(as_app) as session:
        assert session.scalars(select(Annotation.label)).all() == ["a"]


@ON_POSTGRES
def test_app_role_forced_delete_still_works(as_app: Engine) -> None:
    project_id = _annotate(as_app)
    with transaction(as_app) as session:
        project = session.get_one(Project, project_id)
        delete_target(session, project, "project", actor="admin", reason="test", force=True)
    with transaction(as_app) as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0


@ON_POSTGRES
def test_owner_as_app_role_is_rejected(engine: Engine) -> None:
    with engine.connect() as connection:
        owner = connection.execute(text("SELECT current_user")).scalar_one()
    with pytest.raises(ValidationError, match="owns table"), engine.begin() as connection:
        grant_app_role(connection, owner)


def test_app_role_on_sqlite_is_rejected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValidationError, match="PostgreSQL"), engine.begin() as connection:
        grant_app_role(connection, "loupe_app")
    engine.dispose()


@ON_POSTGRES
def test_app_role_with_a_quoted_name_is_rejected(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="lower-case"), engine.begin() as connection:
        grant_app_role(connection, 'x"; DROP TABLE annotation; --')
