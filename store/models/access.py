"""Refused actions: what a person tried that their role does not allow."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow


class AccessRefusal(Base):
    """One refusal by ``store.permissions``, kept so an admin can see who tried what."""

    __tablename__ = "access_refusal"
    __table_args__ = (Index(None, "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    """The role that was checked (a role can change later; this is the one refused)."""
    permission: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(200))
    """What was asked for: a page's script, or the object of the action (``label issue 7``)."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
