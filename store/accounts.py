"""Local accounts: users with a role and a slowly hashed password.

Passwords are hashed with scrypt (the standard library's, memory-hard) and a random salt per
user; a stored hash names its parameters, so they can be raised later without breaking old ones:
a hash made with weaker ones is checked with its own and replaced at the next sign-in.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import throttle
from store.base import utcnow
from store.errors import AuthenticationError, NotFoundError, ValidationError
from store.models import User, UserIdentity
from store.models.project import ROLES

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
"""Current guidance (OWASP): N=2^17, r=8, p=1, which needs 128 MiB per hash; measured at
about 0.46 s a hash on the two-core machine Loupe is developed on."""
MIN_PASSWORD_LENGTH = 8

_work_factor = SCRYPT_N


def set_work_factor(n: int) -> None:
    """Use scrypt's ``n`` for new hashes (``Settings.password_work_factor`` sets it)."""
    global _work_factor
    _work_factor = n


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` for ``password``, with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _work_factor, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ["scrypt", str(_work_factor), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def is_outdated(stored: str) -> bool:
    """Whether ``stored`` was hashed with weaker parameters than new hashes get."""
    try:
        _, n, r, p, _, _ = stored.split("$")
        return (int(n), int(r), int(p)) < (_work_factor, SCRYPT_R, SCRYPT_P)
    except ValueError:
        return True


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(actual, expected)


def add_user(session: Session, name: str, role: str, password: str | None) -> tuple[User, bool]:
    """Create the account ``name``, or set the role and password of the existing one.

    Returns the user and whether it was created.

    Raises
    ------
    ValidationError
        For an unknown role, an empty name or a password shorter than eight characters.
    """
    name = name.strip()
    if not name:
        raise ValidationError("a user needs a name")
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = session.scalar(select(User).where(User.name == name))
    created = user is None
    if user is None:
        user = User(name=name, role=role)
        session.add(user)
    user.role = role
    if password is not None:
        user.password_hash = hash_password(password)
    session.flush()
    return user, created


def get_user(session: Session, name: str) -> User:
    """The user called ``name``.

    Raises
    ------
    NotFoundError
        There is no such user.
    """
    user = session.scalar(select(User).where(User.name == name.strip()))
    if user is None:
        raise NotFoundError(f"no user named {name!r}")
    return user


def authenticate(
    session: Session,
    name: str,
    password: str,
    *,
    client: str | None = None,
    policy: throttle.ThrottlePolicy | None = None,
    now: dt.datetime | None = None,
) -> User:
    """The user ``name`` if ``password`` is theirs and neither the name nor ``client`` (an
    address or session) is waiting out failed sign-ins. A hash with outdated parameters is
    replaced by a current one.

    A failure is written to ``session`` before this raises: commit it all the same.

    Raises
    ------
    SignInThrottledError
        Too soon after failed sign-ins of the name or client (the password is not checked).
    AuthenticationError
        If there is no such user, the account has no password, or the password is wrong.
    """
    policy = policy or throttle.ThrottlePolicy()
    now = now or utcnow()
    keys = throttle.keys_for(name, client)
    throttle.check(session, keys, policy, now)
    user = session.scalar(select(User).where(User.name == name.strip()))
    stored = user.password_hash if user is not None else None
    if stored is None or user is None:
        # Spend the same time as a real check, so a wrong name is not told apart by timing.
        _scrypt(password, b"0" * 16, _work_factor, SCRYPT_R, SCRYPT_P)
    if stored is None or user is None or not verify_password(password, stored):
        throttle.record_failure(session, keys, policy, now)
        raise AuthenticationError("unknown user name or wrong password")
    if is_outdated(stored):
        user.password_hash = hash_password(password)
    throttle.record_success(session, keys)
    return user


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128 * r * (n + p + 2) bytes; leave OpenSSL a little over that.
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class AccountSummary:
    """One account as an admin's list shows it."""

    name: str
    role: str
    password: bool
    """Whether the account can sign in with a password."""
    identities: int
    """OpenID Connect identities linked to it."""
    failed_sign_ins: int
    """Failed sign-ins since the last success."""
    locked_until: dt.datetime | None
    """Set while the account is locked out."""


def account_report(session: Session, now: dt.datetime | None = None) -> list[AccountSummary]:
    """Every account by name, with its failed sign-ins and lockout."""
    identities = dict(
        session.execute(
            select(UserIdentity.user_id, func.count()).group_by(UserIdentity.user_id)
        ).all()
    )
    failed = throttle.failed_sign_ins(session, now)
    report = []
    for user in session.scalars(select(User).order_by(User.name)):
        failures = failed.get(user.name)
        report.append(
            AccountSummary(
                name=user.name,
                role=user.role,
                password=bool(user.password_hash),
                identities=identities.get(user.id, 0),
                failed_sign_ins=failures.failures if failures else 0,
                locked_until=failures.locked_until if failures else None,
            )
        )
    return report
