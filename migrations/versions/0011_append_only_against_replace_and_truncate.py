"""Append-only tables hold against REPLACE and TRUNCATE too.

SQLite's ``REPLACE INTO`` / ``INSERT OR REPLACE`` removes the row whose key the new row takes
without firing delete triggers, so the UPDATE/DELETE triggers of 0001/0002 did not stop it from
rewriting an annotation or a snapshot entry. A BEFORE INSERT trigger now refuses an insert whose
primary key (or unique key) is already taken, before the conflict resolution can delete anything.

PostgreSQL's ``TRUNCATE`` fires no row triggers; a BEFORE TRUNCATE statement trigger refuses
it (it fires for every table a ``TRUNCATE ... CASCADE`` reaches, too). A forced delete
(``store/deletion.py``) removes annotations row by row under ``annotation_delete_permit``, so
it is untouched.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "annotations are append-only: record a new action instead"
IMMUTABLE = "snapshots are immutable: create a new snapshot instead"
TAKEN_KEY = {
    "annotation": ("id = NEW.id", APPEND_ONLY),
    "snapshot": ("id = NEW.id OR (project_id = NEW.project_id AND name = NEW.name)", IMMUTABLE),
    "snapshot_entry": (
        "id = NEW.id OR (snapshot_id = NEW.snapshot_id AND item_id = NEW.item_id)",
        IMMUTABLE,
    ),
}
"""Per table: the condition on an existing row that the new row would replace, and the refusal."""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, (taken, message) in TAKEN_KEY.items():
            op.execute(
                f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {taken}) "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        return
    for table, (_, message) in TAKEN_KEY.items():
        op.execute(
            f"CREATE FUNCTION {table}_no_truncate() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_no_truncate()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TAKEN_KEY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
        return
    for table in TAKEN_KEY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_no_truncate()")
