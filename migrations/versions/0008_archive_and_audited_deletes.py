"""Archive and audited deletes: projects, sources and items can be archived (hidden, reversible)
or deleted, and a delete leaves a record of what went, by whom, when and why.

``archived_at`` on project, source and item. Archiving a project or source stamps its items with
the same time, so every reader asks one column of the item.

Annotations stay append-only: UPDATE is refused as before, and DELETE is refused unless the
item is listed in ``annotation_delete_permit``, which only a forced delete fills, in the same
transaction that writes its ``deletion`` record (holding a copy of those annotations) and that
empties the permits again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "annotations are append-only: record a new action instead"
PERMITTED = "EXISTS (SELECT 1 FROM annotation_delete_permit p WHERE p.item_id = OLD.item_id)"


def upgrade() -> None:
    for table in ("project", "source", "item"):
        # add_column only: SQLite alters in place (a batch copy of item would cascade deletes)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True)
            )
    # the few archived items, so that "not archived" is a probe, not a scan of every item
    op.create_index(
        "ix_item_archived",
        "item",
        ["id"],
        sqlite_where=sa.text("archived_at IS NOT NULL"),
        postgresql_where=sa.text("archived_at IS NOT NULL"),
    )
    op.create_table(
        "deletion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('project', 'source', 'item')", name=op.f("ck_deletion_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion")),
    )
    op.create_table(
        "annotation_delete_permit",
        sa.Column("item_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_annotation_delete_permit")),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER annotation_no_delete")
        op.execute(
            "CREATE TRIGGER annotation_no_delete BEFORE DELETE ON annotation "
            f"WHEN NOT {PERMITTED} BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION annotation_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP = 'DELETE' AND {PERMITTED} THEN RETURN OLD; END IF; "
        f"RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER annotation_no_delete")
        op.execute(
            "CREATE TRIGGER annotation_no_delete BEFORE DELETE ON annotation "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
    else:
        op.execute(
            "CREATE OR REPLACE FUNCTION annotation_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
    op.drop_table("annotation_delete_permit")
    op.drop_table("deletion")
    op.drop_index("ix_item_archived", table_name="item")
    for table in ("item", "source", "project"):
        # a plain ALTER TABLE DROP COLUMN (SQLite 3.35+): a batch copy of item would drop the
        # table, and with it, through ON DELETE CASCADE, every annotation of the project
        op.drop_column(table, "archived_at")
