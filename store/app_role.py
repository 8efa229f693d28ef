"""The application's own PostgreSQL role: it reads and writes rows, it owns nothing.

Migrations run as the role that owns the tables. The annotator and the scheduler connect as a
second role that may SELECT and INSERT everywhere, UPDATE and DELETE only where rows are meant
to change, and never TRUNCATE; not owning the tables, it cannot ALTER them (so it cannot
``DISABLE TRIGGER`` the append-only guards) nor DROP them. Grants name the tables that exist,
so they are given again after every migration (``loupe db upgrade --app-role`` does both).
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

from store.errors import ValidationError

APPEND_ONLY = {
    "annotation": "SELECT, INSERT, DELETE",
    "snapshot": "SELECT, INSERT",
    "snapshot_entry": "SELECT, INSERT",
    "deletion": "SELECT, INSERT",
    "access_refusal": "SELECT, INSERT",
    "alembic_version": "SELECT",
}
"""Tables whose rows the application never changes, and what it may do on them. DELETE on
``annotation`` serves an admin's forced delete: the table's trigger still refuses every row not
listed in ``annotation_delete_permit``, in the same transaction as the deletion record."""
READ_WRITE = "SELECT, INSERT, UPDATE, DELETE"
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def grant_app_role(connection: Connection, role: str, password: str | None = None) -> list[str]:
    """Create ``role`` if it does not exist (a login role when ``password`` is given), set its
    password if given, and give it exactly the application's privileges on every table.

    Returns the tables granted, sorted.

    Raises
    ------
    ValidationError
        The database is not PostgreSQL, the role name is not a plain lower-case identifier, or
        the role owns tables (an owner can alter and truncate them whatever it is granted).
    """
    if connection.dialect.name != "postgresql":
        raise ValidationError("a separate application role is a PostgreSQL feature")
    if not ROLE_NAME.fullmatch(role):
        raise ValidationError(f"role {role!r}: use lower-case letters, digits and underscores")
    tables = sorted(
        connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
    )
    exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    if exists.first() is None:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    owned = connection.execute(
        text(
            "SELECT tablename FROM pg_tables "
            "WHERE schemaname = current_schema() AND tableowner = :r"
        ),
        {"r": role},
    ).first()
    if owned is not None:
        raise ValidationError(
            f"role {role} owns table {owned[0]}: the application's role must own nothing "
            "(run the migrations as another role)"
        )
    if password is not None:
        # DDL takes no bound parameters; quotes are doubled (standard_conforming_strings)
        literal = password.replace("'", "''")
        connection.execute(text(f"ALTER ROLE \"{role}\" LOGIN PASSWORD '{literal}'"))
    connection.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
    for table in tables:
        connection.execute(text(f'REVOKE ALL ON TABLE "{table}" FROM "{role}"'))
        privileges = APPEND_ONLY.get(table, READ_WRITE)
        connection.execute(text(f'GRANT {privileges} ON TABLE "{table}" TO "{role}"'))
    connection.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"'))
    return tables
