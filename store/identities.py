"""OpenID Connect identities: which account a provider's sign-in lands on.

An identity is the provider's issuer and subject, and an account is found by those alone. The
e-mail address and display name in the claims are chosen by the person or the provider, so they
never select an account: a first sign-in gets a new annotator account of its own (or is refused,
by setting), and an existing account is joined only when an admin links the identity to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.accounts import get_user
from store.errors import AuthenticationError, DuplicateError
from store.models import User, UserIdentity

NEW_ACCOUNT_ROLE = "annotator"
"""The lowest role: what an identity nobody vouched for gets."""


def account_for_claims(
    session: Session,
    claims: Mapping[str, object],
    *,
    new_accounts: Literal["create", "refuse"] = "create",
) -> User:
    """The account an OpenID Connect sign-in with ``claims`` (the ID token's) works as.

    Raises
    ------
    AuthenticationError
        The claims lack ``iss`` or ``sub``, or no account is linked to them and
        ``new_accounts`` is ``refuse``.
    """
    issuer, subject = str(claims.get("iss") or ""), str(claims.get("sub") or "")
    if not issuer or not subject:
        raise AuthenticationError("the provider's sign-in names no issuer and subject")
    linked = session.scalar(
        select(User)
        .join(UserIdentity, UserIdentity.user_id == User.id)
        .where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
    )
    if linked is not None:
        return linked
    if new_accounts == "refuse":
        raise AuthenticationError(
            "no Loupe account is linked to this sign-in: ask an admin to run "
            f"`loupe user link NAME --issuer {issuer} --subject {subject}`"
        )
    wanted = claims.get("email") or claims.get("name") or subject
    user = User(name=_free_name(session, str(wanted)), role=NEW_ACCOUNT_ROLE)
    session.add(user)
    session.flush()
    session.add(UserIdentity(user_id=user.id, issuer=issuer, subject=subject))
    session.flush()
    return user


def link_identity(session: Session, name: str, issuer: str, subject: str) -> bool:
    """Let the identity ``issuer`` + ``subject`` sign in as the user ``name``; whether it was
    not linked to them already.

    Raises
    ------
    NotFoundError
        There is no user ``name``.
    DuplicateError
        The identity signs in as another user.
    """
    user = get_user(session, name)
    existing = session.scalar(
        select(UserIdentity).where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
    )
    if existing is not None:
        if existing.user_id == user.id:
            return False
        other = session.get(User, existing.user_id)
        raise DuplicateError(
            f"that identity already signs in as {other.name if other else existing.user_id!r}"
        )
    session.add(UserIdentity(user_id=user.id, issuer=issuer, subject=subject))
    session.flush()
    return True


def _free_name(session: Session, wanted: str) -> str:
    """``wanted`` (cut to fit), or with the first ``-2``, ``-3``, ... no account has."""
    base = wanted.strip()[:190] or "user"
    similar = select(User.name).where(User.name.startswith(base, autoescape=True))
    taken = set(session.scalars(similar))
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"
