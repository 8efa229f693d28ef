"""Projects and the people who work on them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, one_of, utcnow

MODALITIES = ("audio", "spectrum", "crop")
ROLES = ("annotator", "reviewer", "admin")


class Project(Base):
    __tablename__ = "project"
    __table_args__ = (CheckConstraint(one_of("modality", MODALITIES), name="modality"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    modality: Mapped[str] = mapped_column(String(16))
    classes: Mapped[list]
    """Class names in model-output order; labels outside this list are rejected."""
    settings: Mapped[dict] = mapped_column(default=dict)
    """Per-project options (preprocessing, sample rate, label prefixes, ...)."""
    archived_at: Mapped[dt.datetime | None]
    """Set while the project is archived; its items carry the same stamp (see store.archive)."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "user"
    __table_args__ = (CheckConstraint(one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="annotator")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    """``scrypt$n$r$p$salt$hash``; unset for accounts that sign in through OpenID Connect only."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
