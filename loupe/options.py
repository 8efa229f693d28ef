"""Options every command group shares, and the database they open."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import Engine

from store import schema
from store.engine import make_engine
from store.settings import load_settings

JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print exactly one JSON object on stdout, and no progress bars."),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $LOUPE_DATABASE_URL or ./loupe.db)."),
]


def database_url(db: str | None) -> str:
    return load_settings(database_url=db).database_url


def migrated_engine(db: str | None) -> Engine:
    """An engine on a database that is migrated to the code's schema."""
    engine = make_engine(database_url(db))
    schema.require_current(engine)
    return engine


CapOpt = Annotated[
    int | None,
    typer.Option(help="At most this many pseudo-labels per class (default: 3x the rarest class)."),
]
