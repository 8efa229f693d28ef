"""Jobs can be ``interrupted``: a running job that stopped beating and was taken over.

Running rows that were left behind by killed processes stay ``running`` here; the next job of
their kind marks them, and reports show them as interrupted once their heartbeat is stale.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "status IN ('queued', 'running', 'done', 'failed')"
AFTER = "status IN ('queued', 'running', 'done', 'failed', 'interrupted')"


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_job_status"), type_="check")
        batch_op.create_check_constraint("status", AFTER)


def downgrade() -> None:
    # an interrupted job was running when it died: that is what the older schema can say
    op.execute("UPDATE job SET status = 'failed' WHERE status = 'interrupted'")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_job_status"), type_="check")
        batch_op.create_check_constraint("status", BEFORE)
