"""Immutable, versioned datasets frozen from annotations (and marked pseudo-labels)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, one_of, utcnow

ENTRY_ORIGINS = ("human", "pseudo")
SPLITS = ("train", "val", "test")


class Snapshot(Base):
    __tablename__ = "snapshot"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    """SHA-256 over the sorted entries: the same labels give the same hash."""
    counts: Mapped[dict] = mapped_column(default=dict)
    pseudo_threshold: Mapped[float | None]
    pseudo_model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_version.id", use_alter=True)
    )
    """The model whose calibrated suggestions became pseudo-labels, if any."""
    pseudo: Mapped[dict | None]
    """How pseudo-labels were chosen: per-class thresholds, target error, estimated precision on
    the audit set, coverage of the unlabelled pool, cap per class."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SnapshotEntry(Base):
    __tablename__ = "snapshot_entry"
    __table_args__ = (
        UniqueConstraint("snapshot_id", "item_id"),
        CheckConstraint(one_of("origin", ENTRY_ORIGINS), name="origin"),
        CheckConstraint(one_of("split", SPLITS), name="split"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    label: Mapped[str] = mapped_column(String(200))
    start_s: Mapped[float | None]
    end_s: Mapped[float | None]
    origin: Mapped[str] = mapped_column(String(16))
    annotation_id: Mapped[int | None] = mapped_column(ForeignKey("annotation.id"))
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestion.id"))
    split: Mapped[str] = mapped_column(String(8))
