"""Snapshots are immutable: the database refuses to change or delete their entries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "snapshots are immutable: create a new snapshot instead"
GUARDED = (("snapshot", ("UPDATE",)), ("snapshot_entry", ("UPDATE", "DELETE")))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, verbs in GUARDED:
            for verb in verbs:
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
                )
        return
    op.execute(
        "CREATE FUNCTION snapshot_immutable() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$"
    )
    for table, verbs in GUARDED:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE {' OR '.join(verbs)} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION snapshot_immutable()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, verbs in GUARDED:
            for verb in verbs:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb.lower()}")
        return
    for table, _ in GUARDED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
    op.execute("DROP FUNCTION IF EXISTS snapshot_immutable()")
