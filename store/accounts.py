"""Local accounts: users with a role and a slowly hashed password.

Passwords are hashed with scrypt (the standard library's, memory-hard) and a random salt per
user; a stored hash names its parameters, so they can be raised later without breaking old ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import AuthenticationError, ValidationError
from store.models import User
from store.models.project import ROLES

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` for ``password``, with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


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


def authenticate(session: Session, name: str, password: str) -> User:
    """The user ``name`` if ``password`` is theirs.

    Raises
    ------
    AuthenticationError
        If there is no such user, the account has no password, or the password is wrong.
    """
    user = session.scalar(select(User).where(User.name == name.strip()))
    if user is None or not user.password_hash:
        # Spend the same time as a real check, so a wrong name is not told apart by timing.
        _scrypt(password, b"0" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        raise AuthenticationError("unknown user name or wrong password")
    if not verify_password(password, user.password_hash):
        raise AuthenticationError("unknown user name or wrong password")
    return user


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
