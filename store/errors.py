"""Named errors of the store, raised instead of driver errors or ``None``."""

from __future__ import annotations


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


class PermissionDeniedError(StoreError):
    """A person's role does not allow what they tried (see ``store.permissions``)."""
