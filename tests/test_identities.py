"""OpenID Connect sign-in lands on the account linked to the issuer and subject, never on one
whose name or e-mail the claims happen to share."""

from __future__ import annotations

from typing import Literal

import pytest
from sqlalchemy import Engine

from store.accounts import add_user
from store.engine import transaction
from store.errors import AuthenticationError, DuplicateError, NotFoundError
from store.identities import account_for_claims, link_identity

ISSUER = "https://id.example.org"


def _claims(subject: str, **extra: str) -> dict[str, object]:
    """What a provider's ID token says (``st.user`` holds the same keys)."""
    return {"iss": ISSUER, "sub": subject, "is_logged_in": True, **extra}


@pytest.fixture
def demo(engine: Engine) -> Engine:
    with transaction(engine) as session:
        add_user(session, "demo", "admin", "loupe-demo-password")
    return engine


def _sign_in(
    engine: Engine, claims: dict, new_accounts: Literal["create", "refuse"] = "create"
) -> tuple[str, str]:
    with transaction(engine) as session:
        user = account_for_claims(session, claims, new_accounts=new_accounts)
        return user.name, user.role


def test_claims_naming_the_admin_never_sign_in_as_the_admin(demo: Engine) -> None:
    name, role = _sign_in(demo, _claims("mallory-1", name="demo", email="demo"))
    assert name != "demo" and role == "annotator"
    again = _sign_in(demo, _claims("mallory-1", name="someone else", email="other@example.org"))
    assert again == (name, role)  # the same issuer and subject: the same new account


def test_each_new_identity_gets_a_name_nobody_has(demo: Engine) -> None:
    names = {_sign_in(demo, _claims(f"sub-{i}", email="demo"))[0] for i in range(3)}
    assert len(names) == 3 and "demo" not in names


def test_the_same_subject_at_another_issuer_is_another_person(demo: Engine) -> None:
    first = _sign_in(demo, _claims("42", email="a@example.org"))
    other = _sign_in(demo, {"iss": "https://other.example", "sub": "42", "email": "a@example.org"})
    assert first[0] != other[0]


def test_refuse_mode_refuses_an_unlinked_identity(demo: Engine) -> None:
    with pytest.raises(AuthenticationError, match="loupe user link"):
        _sign_in(demo, _claims("new-person", email="demo"), new_accounts="refuse")


def test_an_admin_link_joins_an_existing_account(demo: Engine) -> None:
    with transaction(demo) as session:
        assert link_identity(session, "demo", ISSUER, "demo-at-idp")
        assert not link_identity(session, "demo", ISSUER, "demo-at-idp")
    assert _sign_in(demo, _claims("demo-at-idp"), new_accounts="refuse") == ("demo", "admin")


def test_linking_an_identity_of_another_account_is_rejected(demo: Engine) -> None:
    name, _ = _sign_in(demo, _claims("taken"))
    with transaction(demo) as session, pytest.raises(DuplicateError, match=name):
        link_identity(session, "demo", ISSUER, "taken")
    with transaction(demo) as session, pytest.raises(NotFoundError):
        link_identity(session, "nobody", ISSUER, "other")


def test_claims_without_issuer_or_subject_are_rejected(demo: Engine) -> None:
    with pytest.raises(AuthenticationError):
        _sign_in(demo, {"email": "demo", "name": "demo", "sub": "x"})
