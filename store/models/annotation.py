"""What people did with items (append-only) and who holds which item now."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, one_of, utcnow

ACTIONS = ("import", "accept", "edit", "reject", "skip", "add", "undo")


class Annotation(Base):
    """One action of one person on one item. Rows are never updated nor deleted."""

    __tablename__ = "annotation"
    __table_args__ = (
        CheckConstraint(one_of("action", ACTIONS), name="action"),
        Index(None, "item_id", "created_at"),
        Index(None, "user_id", "created_at"),
        Index(None, "undoes_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(200))
    start_s: Mapped[float | None]
    end_s: Mapped[float | None]
    f_low_hz: Mapped[float | None]
    f_high_hz: Mapped[float | None]
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestion.id"))
    """The suggestion that was on screen when the person acted."""
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("annotation.id"))
    """For ``undo``: the annotation it takes back."""
    duration_s: Mapped[float | None]
    """Seconds between the item appearing and the action."""
    audit: Mapped[bool] = mapped_column(default=False, server_default=false())
    """The item came from the queue's random audit stream: an unbiased sample for evaluation
    and for choosing pseudo-label thresholds."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Lease(Base):
    """An item handed to one annotator until ``expires_at``."""

    __tablename__ = "lease"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime]
    audit: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Handed out by the random audit stream rather than by the strategy."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


ISSUE_STATUSES = ("open", "kept", "relabelled")


class LabelIssue(Base):
    """A human label the model disputes strongly under out-of-fold probabilities, for review."""

    __tablename__ = "label_issue"
    __table_args__ = (
        UniqueConstraint("item_id", "model_version_id"),
        CheckConstraint(one_of("status", ISSUE_STATUSES), name="status"),
        Index(None, "project_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_version.id", ondelete="CASCADE")
    )
    """The training run whose out-of-fold probabilities disputed the label."""
    annotation_id: Mapped[int | None] = mapped_column(ForeignKey("annotation.id"))
    """The human label under dispute."""
    label: Mapped[str] = mapped_column(String(200))
    suggested: Mapped[str] = mapped_column(String(200))
    self_confidence: Mapped[float]
    """Out-of-fold probability of the given label: the lower, the stronger the dispute."""
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
