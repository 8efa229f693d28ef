"""Who may do what: every role against every permission, from the one definition."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from store.accounts import add_user
from store.engine import transaction
from store.errors import PermissionDeniedError
from store.models import AccessRefusal, User
from store.models.project import ROLES
from store.permissions import (
    ROLE_PERMISSIONS,
    Permission,
    allowed,
    permissions_of,
    record_refusal,
    require,
)

P = Permission
EXPECTED = {
    "annotator": {P.ANNOTATE, P.VIEW_OWN_STATS},
    "reviewer": {P.ANNOTATE, P.VIEW_OWN_STATS, P.REVIEW_LABELS, P.VIEW_PROJECT_OVERVIEW},
    "admin": set(Permission),
}
"""The matrix written out by hand, so that a change to the definition is a visible decision."""


def test_every_role_and_only_roles_have_permissions() -> None:
    assert set(ROLE_PERMISSIONS) == set(ROLES) == set(EXPECTED)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("permission", list(Permission))
def test_matrix(role: str, permission: Permission) -> None:
    expected = permission in EXPECTED[role]
    assert allowed(role, permission) is expected
    assert allowed(User(name="someone", role=role), permission) is expected
    if expected:
        require(role, permission)
    else:
        with pytest.raises(PermissionDeniedError, match=f"may not {permission.value}"):
            require(role, permission)


def test_roles_grow_by_inclusion() -> None:
    assert permissions_of("annotator") < permissions_of("reviewer") < permissions_of("admin")


def test_refusal_names_the_person_role_and_permission() -> None:
    with pytest.raises(PermissionDeniedError) as refused:
        require(User(name="ana", role="annotator"), Permission.REVIEW_LABELS)
    assert str(refused.value).startswith("ana (annotator) may not review labels")


@pytest.mark.parametrize("role", ["", "Admin", "owner"])
def test_an_unknown_role_is_rejected(role: str) -> None:
    assert permissions_of(role) == frozenset()
    for permission in Permission:
        assert not allowed(role, permission)
        with pytest.raises(PermissionDeniedError):
            require(role, permission)


def test_a_refusal_is_kept_with_person_role_permission_and_target(engine) -> None:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        user, _ = add_user(session, "ana", "annotator", None)
        record_refusal(session, user.id, user.role, Permission.MANAGE_MODELS, "pages/models.py")
    with transaction(engine) as session:
        [kept] = session.scalars(select(AccessRefusal)).all()
        assert (kept.user_id, kept.role, kept.permission, kept.target) == (
            user.id,
            "annotator",
            "manage models",
            "pages/models.py",
        )
        assert kept.created_at is not None
