"""Refused actions: a row for each time a person's role did not allow what they tried.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_refusal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("permission", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_access_refusal_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_refusal")),
    )
    with op.batch_alter_table("access_refusal", schema=None) as batch_op:
        batch_op.create_index("ix_access_refusal_user_id_created_at", ["user_id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("access_refusal", schema=None) as batch_op:
        batch_op.drop_index("ix_access_refusal_user_id_created_at")
    op.drop_table("access_refusal")
