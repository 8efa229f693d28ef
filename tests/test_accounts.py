"""Local accounts: slow password hashes, sign-in, roles."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from store.accounts import add_user, authenticate, hash_password, verify_password
from store.engine import transaction
from store.errors import AuthenticationError, ValidationError


def test_password_hash_is_salted_and_verifies() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("correct horse", first)
    assert not verify_password("correct horsf", first)


def test_sign_in_with_the_right_password(engine: Engine) -> None:
    with transaction(engine) as session:
        add_user(session, "alice", "reviewer", "s3cret-pass")
    with transaction(engine) as session:
        user = authenticate(session, "alice", "s3cret-pass")
        assert (user.name, user.role) == ("alice", "reviewer")
        assert "s3cret-pass" not in (user.password_hash or "")


def test_wrong_password_is_rejected(engine: Engine) -> None:
    with transaction(engine) as session:
        add_user(session, "alice", "annotator", "s3cret-pass")
    with transaction(engine) as session, pytest.raises(AuthenticationError):
        authenticate(session, "alice", "s3cret-pasS")
    with transaction(engine) as session, pytest.raises(AuthenticationError):
        authenticate(session, "nobody", "s3cret-pass")


def test_short_password_and_unknown_role_are_rejected(engine: Engine) -> None:
    with transaction(engine) as session:
        with pytest.raises(ValidationError, match="at least 8"):
            add_user(session, "alice", "annotator", "short")
        with pytest.raises(ValidationError, match="unknown role"):
            add_user(session, "alice", "boss", "long enough")


def test_adding_an_existing_user_changes_role_and_password(engine: Engine) -> None:
    with transaction(engine) as session:
        _, created = add_user(session, "alice", "annotator", "first-password")
        assert created
    with transaction(engine) as session:
        user, created = add_user(session, "alice", "admin", "second-password")
        assert not created and user.role == "admin"
    with transaction(engine) as session:
        authenticate(session, "alice", "second-password")
