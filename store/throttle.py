"""Sign-in throttling: a wait that doubles with each failed sign-in after the first, and a
lockout after too many.

Failures are counted per account name (known or not, so a lockout tells nothing about which
names exist) and per client, in the database, so restarting the app resets nothing. A success
clears both counters; an admin clears an account's with :func:`unlock`, and time ends a
lockout on its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.base import utcnow
from store.errors import SignInThrottledError
from store.models import SignInThrottle, User


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    """Failures in a row that lock out."""
    backoff_s: float = 1.0
    """Wait after the second failure; it doubles with each further one."""
    lockout_s: float = 15 * 60.0

    def wait_s(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row (never more than a lockout).

        The first failure costs nothing: it is most often a typo, retyped at once."""
        if failures <= 1:
            return 0.0
        return min(self.backoff_s * 2.0 ** (failures - 2), self.lockout_s)


@dataclass(frozen=True)
class ThrottleKey:
    scope: str
    """``account`` or ``client``."""
    key: str


@dataclass(frozen=True)
class LockedAccount:
    """An account name with failed sign-ins, for an admin's list."""

    name: str
    failures: int
    locked_until: dt.datetime | None
    """Set while the account is locked out."""


CLIENT_SHARE = 4
"""A client address stands for this many people (everyone behind one proxy or on localhost
shares it): its back-off counts its failures in steps of this many, and it locks out only after
this many times an account's limit, so one person's typos never lock out the rest."""


def _counted(row: SignInThrottle) -> int:
    """Failures as the back-off and lockout count them for the row's scope."""
    return row.failures // CLIENT_SHARE if row.scope == "client" else row.failures


def keys_for(name: str, client: str | None) -> list[ThrottleKey]:
    keys = [ThrottleKey("account", name.strip())]
    if client:
        keys.append(ThrottleKey("client", client))
    return keys


def check(
    session: Session, keys: list[ThrottleKey], policy: ThrottlePolicy, now: dt.datetime
) -> None:
    """Refuse a sign-in attempt that comes before its wait is over.

    Raises
    ------
    SignInThrottledError
        With the time from which to try again.
    """
    retry_at: dt.datetime | None = None
    locked = False
    for row in _rows(session, keys):
        if row.locked_until is not None and _aware(row.locked_until) > now:
            at, locked = _aware(row.locked_until), True
        elif row.last_failure_at is not None and row.locked_until is None:
            at = _aware(row.last_failure_at) + dt.timedelta(seconds=policy.wait_s(_counted(row)))
        else:
            continue
        if at > now and (retry_at is None or at > retry_at):
            retry_at = at
    if retry_at is not None:
        raise SignInThrottledError(retry_at, locked=locked)


def record_failure(
    session: Session, keys: list[ThrottleKey], policy: ThrottlePolicy, now: dt.datetime
) -> None:
    """Count a failed sign-in for each key, locking out those that reach the limit."""
    found = {(row.scope, row.key): row for row in _rows(session, keys)}
    for key in keys:
        row = found.get((key.scope, key.key))
        if row is None:
            row = SignInThrottle(scope=key.scope, key=key.key, failures=0)
            session.add(row)
        if row.locked_until is not None and _aware(row.locked_until) <= now:
            row.failures, row.locked_until = 0, None  # the lockout ran out: start again
        row.failures += 1
        row.last_failure_at = now
        if _counted(row) >= policy.max_failures:
            row.locked_until = now + dt.timedelta(seconds=policy.lockout_s)
    session.flush()


def record_success(session: Session, keys: list[ThrottleKey]) -> None:
    """Forget the failures of an account and a client that just signed in."""
    for key in keys:
        session.execute(
            delete(SignInThrottle).where(
                SignInThrottle.scope == key.scope, SignInThrottle.key == key.key
            )
        )
    session.flush()


def unlock(session: Session, name: str) -> bool:
    """Clear the failed sign-ins of the account ``name``; whether there were any.

    Raises
    ------
    NotFoundError
        There is no user ``name``.
    """
    from store.accounts import get_user

    user = get_user(session, name)
    keys = [ThrottleKey("account", user.name)]
    had_failures = bool(_rows(session, keys))
    record_success(session, keys)
    return had_failures


def failed_sign_ins(session: Session, now: dt.datetime | None = None) -> dict[str, LockedAccount]:
    """Accounts with failed sign-ins since their last success, by name (lockouts that ran out
    are shown as not locked)."""
    now = now or utcnow()
    rows = session.execute(
        select(SignInThrottle)
        .join(User, User.name == SignInThrottle.key)
        .where(SignInThrottle.scope == "account")
    ).scalars()
    report = {}
    for row in rows:
        until = _aware(row.locked_until) if row.locked_until is not None else None
        report[row.key] = LockedAccount(
            name=row.key,
            failures=row.failures,
            locked_until=until if until is not None and until > now else None,
        )
    return report


def _rows(session: Session, keys: list[ThrottleKey]) -> list[SignInThrottle]:
    rows = []
    for key in keys:
        row = session.scalar(
            select(SignInThrottle).where(
                SignInThrottle.scope == key.scope, SignInThrottle.key == key.key
            )
        )
        if row is not None:
            rows.append(row)
    return rows


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
