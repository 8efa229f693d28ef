"""``loupe user list``, ``loupe user link`` and ``loupe user unlock``: who may sign in, and how.

``list`` shows each account's role, how it signs in, and its failed sign-ins and lockout.
``link`` lets an OpenID Connect identity (issuer and subject) sign in as an existing account,
the only way such a sign-in reaches an account it did not create. ``unlock`` ends a lockout.
"""

from __future__ import annotations

from typing import Annotated

import typer

from loupe.options import DbOpt, JsonOpt, migrated_engine
from loupe.output import emit, user_errors
from store.accounts import account_report
from store.engine import transaction
from store.identities import link_identity
from store.throttle import unlock

NameArg = Annotated[str, typer.Argument(help="The user's name.")]
IssuerOpt = Annotated[
    str, typer.Option("--issuer", help="The provider's issuer (the ID token's `iss`).")
]
SubjectOpt = Annotated[
    str, typer.Option("--subject", help="The person's subject at that issuer (`sub`).")
]


def users_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List accounts: role, how they sign in, failed sign-ins and lockouts."""
    with user_errors(as_json), transaction(migrated_engine(db)) as session:
        users = [summary.__dict__ for summary in account_report(session)]

    def text() -> str:
        lines = []
        for u in users:
            ways = ", ".join(
                way
                for way, has in (("password", u["password"]), ("OpenID", u["identities"]))
                if has
            )
            line = f"{u['name']} ({u['role']}; {ways or 'no sign-in'})"
            if u["failed_sign_ins"]:
                line += f": {u['failed_sign_ins']} failed sign-ins"
            if u["locked_until"] is not None:
                line += f", LOCKED until {u['locked_until']:%Y-%m-%d %H:%M:%S} UTC"
            lines.append(line)
        return "\n".join(lines) or "no users yet"

    emit(as_json, {"users": users}, text)


def users_link(
    name: NameArg,
    issuer: IssuerOpt,
    subject: SubjectOpt,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Let an OpenID Connect identity sign in as the existing user NAME (with NAME's role)."""
    with user_errors(as_json), transaction(migrated_engine(db)) as session:
        linked = link_identity(session, name, issuer, subject)
    result = {"name": name, "issuer": issuer, "subject": subject, "linked": linked}
    emit(
        as_json,
        result,
        lambda: f"{issuer} {subject} {'now signs' if linked else 'already signed'} in as {name}",
    )


def users_unlock(name: NameArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """End the lockout of NAME and forget its failed sign-ins."""
    with user_errors(as_json), transaction(migrated_engine(db)) as session:
        cleared = unlock(session, name)
    emit(
        as_json,
        {"name": name, "unlocked": cleared},
        lambda: f"{name} unlocked" if cleared else f"{name} had no failed sign-ins",
    )


def register(user_app: typer.Typer) -> None:
    """Add these commands to ``loupe user``."""
    user_app.command("list")(users_list)
    user_app.command("link")(users_link)
    user_app.command("unlock")(users_unlock)
