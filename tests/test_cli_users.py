"""``loupe user list``, ``link`` and ``unlock``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from loupe.cli import app
from store.accounts import add_user, authenticate
from store.engine import make_engine, transaction
from store.errors import AuthenticationError
from store.identities import account_for_claims
from store.throttle import ThrottlePolicy

runner = CliRunner()


def _invoke(db_url: str, *args: str) -> dict:
    result = runner.invoke(app, [*args, "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_shows_a_lockout_and_unlock_ends_it(db_url: str) -> None:
    engine = make_engine(db_url)
    policy = ThrottlePolicy(max_failures=1)
    with transaction(engine) as session:
        add_user(session, "alice", "annotator", "right-password")
    with transaction(engine) as session, pytest.raises(AuthenticationError):
        authenticate(session, "alice", "wrong-password", policy=policy)  # committed all the same
    (alice,) = _invoke(db_url, "user", "list")["users"]
    assert alice["failed_sign_ins"] == 1 and alice["locked_until"] is not None
    assert _invoke(db_url, "user", "unlock", "alice")["unlocked"]
    (alice,) = _invoke(db_url, "user", "list")["users"]
    assert (alice["failed_sign_ins"], alice["locked_until"]) == (0, None)
    with transaction(engine) as session:
        authenticate(session, "alice", "right-password", policy=policy)
    engine.dispose()


def test_link_lets_an_identity_sign_in_as_the_account(db_url: str) -> None:
    engine = make_engine(db_url)
    with transaction(engine) as session:
        add_user(session, "demo", "admin", None)
    issuer, subject = "https://id.example.org", "s-1"
    result = _invoke(db_url, "user", "link", "demo", "--issuer", issuer, "--subject", subject)
    assert result["linked"]
    with transaction(engine) as session:
        claims = {"iss": issuer, "sub": subject}
        assert account_for_claims(session, claims, new_accounts="refuse").name == "demo"
    engine.dispose()


def test_unlocking_an_unknown_user_is_rejected(db_url: str) -> None:
    result = runner.invoke(app, ["user", "unlock", "nobody", "--db", db_url])
    assert result.exit_code != 0 and "no user named" in result.output
