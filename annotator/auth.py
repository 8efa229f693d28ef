"""Signing in: local accounts (user name and password) and, when configured, OpenID Connect.

OpenID Connect goes through ``st.login``: the provider is configured under ``[auth]`` in
Streamlit's ``secrets.toml`` and named by the ``LOUPE_AUTH_PROVIDER`` setting. A person signed in
that way works as the Loupe user named by their e-mail address, created as an annotator on first
sign-in (an admin can change the role with ``loupe user add``).
"""

from __future__ import annotations

import streamlit as st

from annotator import cache, state
from store.accounts import authenticate
from store.engine import transaction
from store.errors import AuthenticationError
from store.models import User
from store.projects import ensure_user


def current_user() -> dict | None:
    """The signed-in person, completing an OpenID Connect sign-in if one just happened.

    The role is read again from the account on every run of the app, so a role an admin
    changes applies from the person's next page, not from their next sign-in."""
    user = st.session_state.get(state.USER)
    if user is not None:
        return _with_current_role(user)
    provider = cache.settings().auth_provider
    if provider and _oidc_signed_in():
        name = st.user.get("email") or st.user.get("name") or st.user.get("sub")
        with transaction(cache.engine()) as session:
            account = ensure_user(session, str(name), "annotator")
            user = {"id": account.id, "name": account.name, "role": account.role}
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
    if submitted:
        try:
            with transaction(cache.engine()) as session:
                account = authenticate(session, name, password)
                st.session_state[state.USER] = {
                    "id": account.id,
                    "name": account.name,
                    "role": account.role,
                }
        except AuthenticationError as e:
            st.error(f"{e}.")
        else:
            st.rerun()
    provider = cache.settings().auth_provider
    if provider:
        st.divider()
        label = "your organisation" if provider == "default" else provider
        if st.button(f"Sign in with {label}"):
            st.login() if provider == "default" else st.login(provider)
    st.caption("No account yet? An admin adds one with `loupe user add NAME`.")


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        if str(key).startswith("loupe."):
            del st.session_state[key]
    if cache.settings().auth_provider and _oidc_signed_in():
        st.logout()
