"""Local accounts: slow password hashes, sign-in, roles."""

from __future__ import annotations

import pytest
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Engine

from store import accounts
from store.accounts import add_user, authenticate, hash_password, verify_password
from store.engine import transaction
from store.errors import AuthenticationError, ValidationError
from store.models import User
from store.settings import Settings


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


def test_new_hashes_follow_current_guidance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOUPE_PASSWORD_WORK_FACTOR", raising=False)
    assert Settings().password_work_factor == 2**17  # the product's default
    monkeypatch.setattr(accounts, "_work_factor", Settings().password_work_factor)
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$131072$8$1$")
    assert verify_password("correct horse", stored)


def test_a_work_factor_that_is_not_a_power_of_two_is_rejected() -> None:
    with pytest.raises(PydanticValidationError, match="power of two"):
        Settings(password_work_factor=100_000)


def test_an_old_hash_is_replaced_at_the_next_sign_in(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, "_work_factor", 2**14)  # what Loupe used to hash with
    with transaction(engine) as session:
        old = add_user(session, "alice", "annotator", "s3cret-pass")[0].password_hash or ""
    assert old.startswith("scrypt$16384$")
    monkeypatch.setattr(accounts, "_work_factor", 2**17)
    with transaction(engine) as session, pytest.raises(AuthenticationError):
        authenticate(session, "alice", "wrong-pass")
    with transaction(engine) as session:
        assert session.get(User, 1).password_hash == old  # a failure changes nothing
    with transaction(engine) as session:
        new = authenticate(session, "alice", "s3cret-pass").password_hash or ""
    assert new.startswith("scrypt$131072$8$1$") and verify_password("s3cret-pass", new)
    with transaction(engine) as session:  # and the upgraded hash is the one kept
        assert authenticate(session, "alice", "s3cret-pass").password_hash == new
