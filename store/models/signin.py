"""Signing in: identities linked from an OpenID Connect provider, and failed-sign-in counters."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, one_of, utcnow

THROTTLE_SCOPES = ("account", "client")


class UserIdentity(Base):
    """An OpenID Connect identity that signs in as a user.

    An identity is its issuer and subject and nothing else: e-mail addresses and display names
    are chosen by the person (or the provider) and may equal someone else's user name."""

    __tablename__ = "user_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    """The provider's ``iss`` claim (its URL)."""
    subject: Mapped[str] = mapped_column(String(255))
    """The provider's ``sub`` claim: stable and never reassigned within one issuer."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SignInThrottle(Base):
    """Failed sign-ins of one account name or one client since its last success.

    Kept in the database so that restarting the app does not reset a lockout."""

    __tablename__ = "sign_in_throttle"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        CheckConstraint(one_of("scope", THROTTLE_SCOPES), name="scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    """The user name tried (known or not), or the client's address (or session)."""
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[dt.datetime | None]
    locked_until: Mapped[dt.datetime | None]
    """Set once ``failures`` reaches the limit; an admin's unlock or the time clears it."""
