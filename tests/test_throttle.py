"""Sign-in throttling: failed sign-ins wait longer each time, lock out, and are kept in the
database; an admin or the time ends a lockout."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from store import throttle
from store.accounts import account_report, add_user, authenticate
from store.engine import transaction
from store.errors import AuthenticationError, NotFoundError, SignInThrottledError
from store.throttle import CLIENT_SHARE, ThrottlePolicy, unlock

POLICY = ThrottlePolicy(max_failures=4, backoff_s=2.0, lockout_s=600.0)
T0 = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _try(engine: Engine, password: str, now: dt.datetime, client: str = "ip:10.0.0.1") -> str:
    """``ok``, or the message of the refusal (committed like the app commits it)."""
    with transaction(engine) as session:
        try:
            authenticate(session, "alice", password, client=client, policy=POLICY, now=now)
        except AuthenticationError as e:
            return str(e)
    return "ok"


@pytest.fixture
def alice(engine: Engine) -> Engine:
    with transaction(engine) as session:
        add_user(session, "alice", "annotator", "right-password")
    return engine


def test_wrong_passwords_lock_the_account_and_the_right_one_is_refused(alice: Engine) -> None:
    t = 0.0
    for _ in range(POLICY.max_failures):
        assert "wrong password" in _try(alice, "wrong-password", _at(t))
        t += 60  # past any back-off (but within a lockout), so every try is counted
    message = _try(alice, "right-password", _at(t), client="ip:10.0.0.2")
    assert "locked" in message and "try again after" in message
    retry_at = _at(t - 60 + POLICY.lockout_s)
    assert retry_at.strftime("%H:%M:%S") in message
    with transaction(alice) as session:
        (summary,) = account_report(session, now=_at(t))
    assert summary.failed_sign_ins == POLICY.max_failures and summary.locked_until == retry_at


def test_back_off_grows_with_each_failure(alice: Engine) -> None:
    waits = []
    for k in range(1, POLICY.max_failures):
        failed_at = 3600.0 * k  # past the previous wait, so each try is checked and counted
        assert "wrong password" in _try(alice, "wrong-password", _at(failed_at))
        waits.append(_refused_for(alice, failed_at))
    assert waits == [0.0, 2.0, 4.0]  # a typo is free, then the wait doubles


def _refused_for(engine: Engine, since: float) -> float:
    """Seconds after ``since`` during which the account's next try is refused unchecked."""
    keys = throttle.keys_for("alice", None)
    with transaction(engine) as session:
        for half_seconds in range(40):
            try:
                throttle.check(session, keys, POLICY, _at(since + half_seconds / 2))
            except SignInThrottledError:
                continue
            return half_seconds / 2
    return float("inf")


def test_a_client_failing_on_many_names_is_slowed_down(alice: Engine) -> None:
    with transaction(alice) as session:
        for i in range(2 * CLIENT_SHARE):
            with pytest.raises(AuthenticationError):
                authenticate(
                    session, f"guess-{i}", "x" * 8, client="ip:6.6.6.6", policy=POLICY, now=T0
                )
    with transaction(alice) as session, pytest.raises(SignInThrottledError):
        authenticate(session, "alice", "right-password", client="ip:6.6.6.6", policy=POLICY, now=T0)


def test_admin_unlock_and_time_end_a_lockout(alice: Engine) -> None:
    for i in range(POLICY.max_failures):
        _try(alice, "wrong-password", _at(60 * i))
    locked_at = 60 * (POLICY.max_failures - 1)
    assert "locked" in _try(alice, "right-password", _at(locked_at + 1), client=None)
    assert _try(alice, "right-password", _at(locked_at + POLICY.lockout_s + 1), client=None) == "ok"
    for i in range(POLICY.max_failures):
        _try(alice, "wrong-password", _at(10**5 + 60 * i), client=None)
    now = _at(10**5 + 60 * POLICY.max_failures)
    assert "locked" in _try(alice, "right-password", now, client=None)
    with transaction(alice) as session:
        assert unlock(session, "alice")
    assert _try(alice, "right-password", now, client=None) == "ok"


def test_unlocking_an_unknown_user_is_rejected(engine: Engine) -> None:
    with transaction(engine) as session, pytest.raises(NotFoundError):
        unlock(session, "nobody")


def test_success_clears_the_failures(alice: Engine) -> None:
    _try(alice, "wrong-password", T0)
    assert _try(alice, "right-password", _at(1)) == "ok"
    with transaction(alice) as session:
        (summary,) = account_report(session, now=_at(1))
    assert (summary.failed_sign_ins, summary.locked_until) == (0, None)


def test_one_person_s_failures_do_not_lock_out_others_at_the_same_address(alice: Engine) -> None:
    """Everyone behind one proxy (or on localhost) shares a client address."""
    with transaction(alice) as session:
        add_user(session, "bob", "annotator", "bobs-password")
    for i in range(POLICY.max_failures):
        assert "wrong password" in _try(alice, "wrong-password", _at(60 * i), client="ip:shared")
    assert "locked" in _try(alice, "right-password", _at(300), client="ip:shared")
    with transaction(alice) as session:  # bob, at the same address, still gets in
        authenticate(
            session, "bob", "bobs-password", client="ip:shared", policy=POLICY, now=_at(300)
        )
