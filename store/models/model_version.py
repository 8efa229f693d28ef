"""Trained model versions and the suggestions they write."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, one_of, utcnow

VERSION_STATUSES = ("candidate", "active", "retired")


class ModelVersion(Base):
    __tablename__ = "model_version"
    __table_args__ = (
        CheckConstraint(one_of("status", VERSION_STATUSES), name="status"),
        Index(
            "uq_model_version_one_active",
            "project_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    arch: Mapped[str] = mapped_column(String(64))
    checkpoint_uri: Mapped[str] = mapped_column(Text)
    checkpoint_sha256: Mapped[str] = mapped_column(String(64))
    classes: Mapped[list]
    """Class names in the order of the model's output columns."""
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    config: Mapped[dict] = mapped_column(default=dict)
    metrics: Mapped[dict] = mapped_column(default=dict)
    environment: Mapped[dict] = mapped_column(default=dict)
    temperature: Mapped[float | None]
    """Fitted on the validation split; every probability Loupe shows is divided by it."""
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Suggestion(Base):
    __tablename__ = "suggestion"
    __table_args__ = (
        UniqueConstraint("item_id", "model_version_id"),
        # The review queue walks this index: open suggestions of a version in the order of the
        # project's strategy. Closed ones (their item is done) drop out of it instead of being
        # skipped.
        Index(
            "ix_suggestion_open_by_priority",
            "model_version_id",
            "priority",
            sqlite_where=text("closed = 0"),
            postgresql_where=text("closed = false"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_version.id", ondelete="CASCADE")
    )
    label: Mapped[str] = mapped_column(String(200))
    probabilities: Mapped[list]
    """Calibrated class probabilities in the order of the version's ``classes``."""
    confidence: Mapped[float]
    margin: Mapped[float]
    entropy: Mapped[float]
    bald: Mapped[float | None]
    """Mutual information between the prediction and the weights, from Monte-Carlo dropout."""
    priority: Mapped[float | None]
    """Queue order under the project's strategy: lower comes sooner (e.g. minus the entropy)."""
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The model's penultimate activations as float16 bytes, for diverse batches."""
    start_s: Mapped[float | None]
    end_s: Mapped[float | None]
    closed: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Set once the item is known to be done (labelled, rejected): the queue's index leaves it
    out. Set when an action is recorded and, for items done otherwise (imported labels, other
    versions), the first time the queue meets them; cleared by undo."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
