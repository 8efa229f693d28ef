"""Index ingest errors by item: prelabel skips unreadable items with an anti-join on it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_error", schema=None) as batch_op:
        batch_op.create_index("ix_ingest_error_item_id", ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ingest_error", schema=None) as batch_op:
        batch_op.drop_index("ix_ingest_error_item_id")
