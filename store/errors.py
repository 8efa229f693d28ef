"""Named errors of the store, raised instead of driver errors or ``None``."""

from __future__ import annotations

import datetime as dt


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class NotFoundError(StoreError):
    """A row that was asked for by name or id does not exist."""


class DuplicateError(StoreError):
    """A row would break a uniqueness rule (same name, same content hash, ...)."""


class ValidationError(StoreError):
    """A value does not fit the project (unknown class, wrong modality, ...)."""


class DatabaseUnreachableError(StoreError):
    """The database URL cannot be connected to."""


class SchemaOutdatedError(StoreError):
    """The database has not been migrated to the schema this code expects."""


class AuthenticationError(StoreError):
    """A user name and password that do not match an account (the message never says which)."""


class SignInThrottledError(AuthenticationError):
    """A sign-in attempted too soon after failed ones; nothing was checked or counted."""

    def __init__(self, retry_at: dt.datetime, *, locked: bool) -> None:
        self.retry_at, self.locked = retry_at, locked
        when = retry_at.strftime("%H:%M:%S UTC")
        reason = "account locked after too many failed sign-ins" if locked else "too many tries"
        super().__init__(f"{reason}: try again after {when}")


class PermissionDeniedError(StoreError):
    """A person's role does not allow what they tried (see ``store.permissions``)."""


class LeaseLostError(StoreError):
    """An action on items the person no longer holds: their lease ran out and someone else took
    the item, or it was labelled meanwhile. Nothing was written; ``item_ids`` names them."""

    def __init__(self, item_ids: list[int]) -> None:
        self.item_ids = item_ids
        named = ", ".join(str(i) for i in item_ids[:10]) + (" …" if len(item_ids) > 10 else "")
        super().__init__(
            f"item{'s' if len(item_ids) > 1 else ''} {named} no longer yours: the lease ran out "
            "and someone else took it, or it was labelled meanwhile; nothing was written"
        )


class AmbiguousError(StoreError):
    """A reference that matches rows in more than one project."""

    def __init__(self, message: str, *, ref: str, projects: list[str]) -> None:
        super().__init__(message)
        self.ref = ref
        self.projects = projects


class JobRunningError(StoreError):
    """A job that runs one at a time (the scheduled pass) is already running and alive."""

    def __init__(self, kind: str, holders: str = "", *, job_id: int | None = None) -> None:
        super().__init__(f"another {kind} job is running{holders}")
        self.holders = holders
        """`` (job 5, host:pid, heartbeat 3 s ago)``, or empty when the holder was not seen."""
        self.job_id = job_id
