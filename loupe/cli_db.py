"""``loupe db``: the schema and the application's own database role (PostgreSQL).

A team deployment runs ``loupe db upgrade --app-role ROLE`` as the role that owns the tables
(the migrations need it); the annotator and the scheduler then connect as ROLE, which may read
and write rows but owns nothing, so it can neither truncate nor alter the tables nor switch
off the append-only triggers.
"""

from __future__ import annotations

from typing import Annotated

import typer

from loupe.options import DbOpt, JsonOpt
from loupe.output import emit, user_errors
from store import schema
from store.app_role import grant_app_role
from store.engine import make_engine, safe_url
from store.settings import load_settings

db_app = typer.Typer(
    no_args_is_help=True, help="The schema, and the application's own PostgreSQL role."
)

RoleArg = Annotated[str, typer.Argument(help="Name of the application's role, e.g. loupe_app.")]


def _grant(url: str, role: str) -> list[str]:
    secret = load_settings().app_db_password
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            return grant_app_role(connection, role, secret.get_secret_value() if secret else None)
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade(
    app_role: Annotated[
        str | None,
        typer.Option(help="Then create or update this role and grant it the app's rights."),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upgrade the schema (as the tables' owner) and grant the application's role its rights.

    The role's password, when $LOUPE_APP_DB_PASSWORD is set, is set too.
    """
    with user_errors(as_json):
        url = load_settings(database_url=db).database_url
        make_engine(url).dispose()
        schema.upgrade(url)
        tables = _grant(url, app_role) if app_role else []
    result = {
        "database": safe_url(url),
        "revision": schema.head_revision(),
        "app_role": app_role,
        "tables": len(tables),
    }
    emit(
        as_json,
        result,
        lambda: (
            f"database {result['database']} is at revision {result['revision']}"
            + (f"; role {app_role} granted on {len(tables)} tables" if app_role else "")
        ),
    )


@db_app.command("grant-app-role")
def db_grant_app_role(role: RoleArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Create or update ROLE with the application's rights: rows in, no ownership, no TRUNCATE.

    Run it as the tables' owner after each migration. The role's password, when
    $LOUPE_APP_DB_PASSWORD is set, is set too.
    """
    with user_errors(as_json):
        url = load_settings(database_url=db).database_url
        tables = _grant(url, role)
    emit(
        as_json,
        {"database": safe_url(url), "app_role": role, "tables": tables},
        lambda: f"role {role} granted on {len(tables)} tables of {safe_url(url)}",
    )
