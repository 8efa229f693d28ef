"""Long-running jobs (ingest, prelabel, train) with progress and a heartbeat."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, one_of, utcnow

JOB_STATUSES = ("queued", "running", "done", "failed", "interrupted")
"""``interrupted``: it stopped beating while running (killed) and a later job took it over."""


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(one_of("status", JOB_STATUSES), name="status"),
        # the lock of scheduled passes: a second running one cannot be inserted
        Index(
            "uq_job_one_running_scheduled",
            "kind",
            unique=True,
            sqlite_where=text("kind = 'scheduled' AND status = 'running'"),
            postgresql_where=text("kind = 'scheduled' AND status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None]
    heartbeat_at: Mapped[dt.datetime | None]
    """Last sign of life; a running job whose heartbeat is old was killed."""
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
