"""Passwords for local accounts; indexes the annotator's queue and progress read on every action.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
    with op.batch_alter_table("annotation", schema=None) as batch_op:
        batch_op.create_index("ix_annotation_user_id_created_at", ["user_id", "created_at"])
        batch_op.create_index("ix_annotation_undoes_id", ["undoes_id"])


def downgrade() -> None:
    with op.batch_alter_table("annotation", schema=None) as batch_op:
        batch_op.drop_index("ix_annotation_undoes_id")
        batch_op.drop_index("ix_annotation_user_id_created_at")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("password_hash")
