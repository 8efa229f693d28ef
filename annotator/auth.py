"""Signing in: local accounts (user name and password) and, when configured, OpenID Connect.

OpenID Connect goes through ``st.login``: the provider is configured under ``[auth]`` in
Streamlit's ``secrets.toml`` and named by the ``LOUPE_AUTH_PROVIDER`` setting. A person signed in
that way works as the account linked to their provider's issuer and subject: on a first sign-in
a new annotator account (named after their e-mail address, made unique), or a refusal, as the
``LOUPE_OIDC_NEW_ACCOUNTS`` setting says; an admin links an identity to an existing account with
``loupe user link`` and changes roles with ``loupe user add``.

Failed password sign-ins are throttled per user name and per client (its address, or the
browser session when the address is unknown), see ``store.throttle``.
"""

from __future__ import annotations

import streamlit as st

from annotator import cache, state
from store.accounts import authenticate
from store.engine import transaction
from store.errors import AuthenticationError
from store.identities import account_for_claims
from store.models import User


def current_user() -> dict | None:
    """The signed-in person, completing an OpenID Connect sign-in if one just happened.

    The role is read again from the account on every run of the app, so a role an admin
    changes applies from the person's next page, not from their next sign-in."""
    user = st.session_state.get(state.USER)
    if user is not None:
        return _with_current_role(user)
    provider = cache.settings().auth_provider
    if provider and _oidc_signed_in():
        try:
            with transaction(cache.engine()) as session:
                account = account_for_claims(
                    session, st.user, new_accounts=cache.settings().oidc_new_accounts
                )
                user = {"id": account.id, "name": account.name, "role": account.role}
        except AuthenticationError as e:
            # shown on the sign-in page, where "Sign in with ..." can be tried again
            st.session_state[state.SIGN_IN_REFUSED] = f"{e}."
            return None
        st.session_state[state.USER] = user
    return user


def _with_current_role(user: dict) -> dict | None:
    with transaction(cache.engine()) as session:
        account = session.get(User, user["id"])
        role = account.role if account is not None else None
    if role is None:  # the account is gone: sign out
        st.session_state.pop(state.USER, None)
        return None
    if role != user["role"]:
        user = user | {"role": role}
        st.session_state[state.USER] = user
    return user


def _oidc_signed_in() -> bool:
    try:
        return bool(st.user.is_logged_in)
    except (AttributeError, KeyError):
        return False


def sign_in_page() -> None:
    st.title("Loupe")
    st.caption("Sign in to review suggestions.")
    with st.form("sign-in", clear_on_submit=False, width=420):
        name = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    refused = st.session_state.pop(state.SIGN_IN_REFUSED, None)
    if refused:
        st.error(refused)
    if submitted:
        settings = cache.settings()
        failure: AuthenticationError | None = None
        with transaction(cache.engine()) as session:
            try:  # inside the transaction, so that a failure is counted (committed)
                account = authenticate(
                    session, name, password, client=_client(), policy=settings.throttle_policy()
                )
            except AuthenticationError as e:
                failure = e
            else:
                st.session_state[state.USER] = {
                    "id": account.id,
                    "name": account.name,
                    "role": account.role,
                }
        if failure is not None:
            st.error(f"{failure}.")
        else:
            st.rerun()
    provider = cache.settings().auth_provider
    if provider:
        st.divider()
        label = "your organisation" if provider == "default" else provider
        if st.button(f"Sign in with {label}"):
            st.login() if provider == "default" else st.login(provider)
    st.caption("No account yet? An admin adds one with `loupe user add NAME`.")


def _client() -> str | None:
    """Who is signing in, for throttling: the client's address, else the browser session."""
    try:
        address = st.context.ip_address
    except (AttributeError, RuntimeError):
        address = None
    if address:
        return f"ip:{address}"
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    return f"session:{context.session_id}" if context is not None else None


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        if str(key).startswith("loupe."):
            del st.session_state[key]
    if cache.settings().auth_provider and _oidc_signed_in():
        st.logout()
