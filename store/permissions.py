"""Who may do what: the permissions of each role, defined once.

Every front door asks here before it shows a page or writes in a person's name: the annotator
builds its navigation from ``allowed`` and its button callbacks call ``require`` (a hidden page
is not a guard: a callback can still be reached by a stale or hand-made request).

Roles grow by inclusion: a reviewer may do all an annotator may, an admin all a reviewer may.
An unknown role may do nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from sqlalchemy.orm import Session

from store.errors import PermissionDeniedError
from store.models import AccessRefusal


class Permission(StrEnum):
    """Something a person may be allowed to do."""

    ANNOTATE = "annotate"
    """Label items: accept, edit, reject, skip, add a segment, undo their own action."""
    VIEW_OWN_STATS = "view own stats"
    """See their own progress (done today, left in the project)."""
    REVIEW_LABELS = "review labels"
    """Adjudicate disputed labels: keep another person's label or change it."""
    VIEW_PROJECT_OVERVIEW = "view project overview"
    """See everyone's activity, the class balance and the model's progress."""
    MANAGE_PROJECTS = "manage projects"
    MANAGE_USERS = "manage users"
    MANAGE_MODELS = "manage models"
    """Snapshots, model versions, their evaluation and promotion."""
    MANAGE_SOURCES = "manage sources"
    """Sources, ingest and its errors."""
    EXPORT = "export"


_ANNOTATOR = frozenset({Permission.ANNOTATE, Permission.VIEW_OWN_STATS})
_REVIEWER = _ANNOTATOR | {Permission.REVIEW_LABELS, Permission.VIEW_PROJECT_OVERVIEW}
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "annotator": _ANNOTATOR,
    "reviewer": _REVIEWER,
    "admin": frozenset(Permission),
}
"""The one definition of which role has which permission (a test checks it covers ``ROLES``)."""


class HasRole(Protocol):
    name: str
    role: str


def _role(who: str | HasRole) -> str:
    return who if isinstance(who, str) else who.role


def permissions_of(who: str | HasRole) -> frozenset[Permission]:
    """The permissions of a role (or of a user's role); none for an unknown role."""
    return ROLE_PERMISSIONS.get(_role(who), frozenset())


def allowed(who: str | HasRole, permission: Permission) -> bool:
    """Whether ``who`` (a role, or anything with a ``role``, such as a ``User``) may do it."""
    return permission in permissions_of(who)


def require(who: str | HasRole, permission: Permission) -> None:
    """Return quietly if ``who`` may do ``permission``.

    Raises
    ------
    PermissionDeniedError
        If the role does not have the permission; the message names the person (when known),
        the role and the permission.
    """
    if allowed(who, permission):
        return
    person = "" if isinstance(who, str) else f"{who.name} "
    raise PermissionDeniedError(
        f"{person}({_role(who)}) may not {permission.value}: ask an admin for a role that may"
    )


def record_refusal(
    session: Session, user_id: int, role: str, permission: Permission, target: str | None = None
) -> AccessRefusal:
    """Keep a refusal: who (``user_id`` with the ``role`` that was checked), what permission
    it lacked, and what it asked for (``target``: a page's script, the object of an action)."""
    refusal = AccessRefusal(user_id=user_id, role=role, permission=permission.value, target=target)
    session.add(refusal)
    session.flush()
    return refusal
