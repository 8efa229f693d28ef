"""Bringing a database to the schema of this code, through the Alembic migrations only."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from store.engine import normalise_url
from store.errors import SchemaOutdatedError


def migrations_dir() -> Path:
    """Folder of the Alembic scripts, found without importing them."""
    spec = importlib.util.find_spec("migrations")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the 'migrations' package is not installed beside 'store'")
    return Path(spec.origin).parent


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` that does not need ``alembic.ini``."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current(engine: Engine) -> None:
    """Raise unless the database is at the head revision.

    Raises
    ------
    SchemaOutdatedError
        With the command that fixes it.
    """
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = (
            "not initialised" if current is None else f"at revision {current}, code expects {head}"
        )
        raise SchemaOutdatedError(f"the database is {state}: run `loupe init`")
