"""Active learning: the queue follows the project's strategy, a random audit stream is marked,
suggestions carry embeddings and BALD, snapshots record how pseudo-labels were chosen, and label
issues found by confident learning wait for review.

The queue's partial index moves from (model version, confidence) to (model version, priority):
prelabel writes each suggestion's priority under the project's strategy (lower comes sooner).
Existing suggestions keep their old order (priority = confidence). Every item gets a uniform
random key, drawn here for existing rows, from which audit picks and the stop set are read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_SQLITE = sa.text("closed = 0")
OPEN_POSTGRESQL = sa.text("closed = false")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))
        batch_op.drop_index(
            "ix_suggestion_open_by_confidence",
            sqlite_where=OPEN_SQLITE,
            postgresql_where=OPEN_POSTGRESQL,
        )
    op.execute("UPDATE suggestion SET priority = confidence")
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suggestion_open_by_priority",
            ["model_version_id", "priority"],
            sqlite_where=OPEN_SQLITE,
            postgresql_where=OPEN_POSTGRESQL,
        )

    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("random_key", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("cold_rank", sa.Integer(), nullable=True))
    if postgres:
        op.execute("UPDATE item SET random_key = random()")
    else:
        op.execute("UPDATE item SET random_key = (random() / 18446744073709551616.0) + 0.5")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.create_index("ix_item_project_id_random_key", ["project_id", "random_key"])
        batch_op.create_index("ix_item_project_id_cold_rank", ["project_id", "cold_rank"])

    for table in ("lease", "annotation"):
        # a plain ALTER TABLE ADD COLUMN: a batch copy would drop the append-only triggers
        op.add_column(
            table, sa.Column("audit", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("snapshot", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pseudo", sa.JSON(), nullable=True))

    op.create_table(
        "label_issue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("annotation_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("suggested", sa.String(length=200), nullable=False),
        sa.Column("self_confidence", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'kept', 'relabelled')", name=op.f("ck_label_issue_status")
        ),
        sa.ForeignKeyConstraint(
            ["annotation_id"],
            ["annotation.id"],
            name=op.f("fk_label_issue_annotation_id_annotation"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["item.id"],
            name=op.f("fk_label_issue_item_id_item"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name=op.f("fk_label_issue_model_version_id_model_version"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_label_issue_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_issue")),
        sa.UniqueConstraint(
            "item_id", "model_version_id", name=op.f("uq_label_issue_item_id_model_version_id")
        ),
    )
    op.create_index(
        "ix_label_issue_project_id_status", "label_issue", ["project_id", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_label_issue_project_id_status", table_name="label_issue")
    op.drop_table("label_issue")
    with op.batch_alter_table("snapshot", schema=None) as batch_op:
        batch_op.drop_column("pseudo")
    for table in ("annotation", "lease"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("audit")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_index("ix_item_project_id_cold_rank")
        batch_op.drop_index("ix_item_project_id_random_key")
        batch_op.drop_column("cold_rank")
        batch_op.drop_column("random_key")
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_suggestion_open_by_priority",
            sqlite_where=OPEN_SQLITE,
            postgresql_where=OPEN_POSTGRESQL,
        )
        batch_op.create_index(
            "ix_suggestion_open_by_confidence",
            ["model_version_id", "confidence"],
            sqlite_where=OPEN_SQLITE,
            postgresql_where=OPEN_POSTGRESQL,
        )
        batch_op.drop_column("embedding")
        batch_op.drop_column("priority")
