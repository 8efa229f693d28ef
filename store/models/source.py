"""Sources (files on disk), the items inside them, and what could not be read."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, one_of, utcnow

SOURCE_KINDS = ("recording", "spectrum", "spectrum_matrix", "hdf5", "image")
ITEM_ORIGINS = ("ingest", "proposal", "human")


class Source(Base):
    __tablename__ = "source"
    __table_args__ = (
        UniqueConstraint("project_id", "sha256"),
        CheckConstraint(one_of("kind", SOURCE_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    uri: Mapped[str] = mapped_column(Text)
    """Absolute path of the file; the media itself is never copied into the store."""
    kind: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    """Content hash: the same bytes are one source per project, wherever they lie."""
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    meta: Mapped[dict] = mapped_column(default=dict)
    """What the reader learned without decoding everything: sample rate, duration, points."""
    complete: Mapped[bool] = mapped_column(default=False)
    """Set once every item of the source is registered; an incomplete source resumes on rerun."""
    archived_at: Mapped[dt.datetime | None]
    """Set while the source is archived; its items carry the same stamp (see store.archive)."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Item(Base):
    """The unit a person labels: a segment, a spectrum or a crop, found by its locator."""

    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("source_id", "locator"),
        CheckConstraint(one_of("origin", ITEM_ORIGINS), name="origin"),
        CheckConstraint("end_s IS NULL OR start_s IS NULL OR end_s > start_s", name="span"),
        Index(None, "project_id"),
        Index(None, "project_id", "random_key"),
        Index(None, "project_id", "cold_rank"),
        # The few archived items: the queue's "not archived" check probes this instead of
        # scanning every item (4 ms at 30,000 items per pick on PostgreSQL without it).
        Index(
            "ix_item_archived",
            "id",
            sqlite_where=text("archived_at IS NOT NULL"),
            postgresql_where=text("archived_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    locator: Mapped[str] = mapped_column(String(400))
    """Unique within the source: ``dataset[index]``, ``column:N``, ``span:start-end``."""
    member: Mapped[str | None] = mapped_column(String(400))
    """HDF5 dataset, matrix column header or image path inside the source, if any."""
    position: Mapped[int | None]
    """Index inside ``member`` (HDF5 row, matrix column number)."""
    start_s: Mapped[float | None]
    end_s: Mapped[float | None]
    f_low_hz: Mapped[float | None]
    f_high_hz: Mapped[float | None]
    origin: Mapped[str] = mapped_column(String(16), default="ingest")
    random_key: Mapped[float | None] = mapped_column(default=random.random)
    """Uniform in [0, 1), drawn once: audit picks and the fixed stop set are read off it."""
    cold_rank: Mapped[int | None]
    """Order of the cold-start strategy (typical, diverse items first) while no model exists."""
    archived_at: Mapped[dt.datetime | None]
    """Set while the item is archived, by itself or with its source or project: the queue,
    new snapshots, exports, prelabel and the counts leave it out. Unarchiving clears it."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IngestError(Base):
    """A file, entry or item that could not be read, with the reason, kept for the user."""

    __tablename__ = "ingest_error"
    __table_args__ = (Index(None, "project_id"), Index(None, "item_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    member: Mapped[str | None] = mapped_column(String(400))
    """The entry, column or line inside the file that failed, when it is not the whole file."""
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    """Set when a registered item failed later, on its first decode."""
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
