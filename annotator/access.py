"""What the signed-in person may see and do: the pages of their role, and the guard every
callback that writes passes first.

The role comes from ``store.permissions``; the page each permission opens is listed here, once.
A page the role may not use is left out of the navigation, so Streamlit neither lists it nor
renders it from a typed URL. Callbacks check again, on the server, because a hidden page is not
a guard: a button on a page opened before the role changed can still be pressed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from annotator import auth, cache, state
from store.engine import transaction
from store.errors import PermissionDeniedError
from store.permissions import Permission, record_refusal, require
from store.permissions import allowed as role_allowed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PageSpec:
    """A page of the app and the permission that opens it."""

    path: str
    """The page's script, relative to ``annotator/``."""
    title: str
    icon: str
    permission: Permission


PAGES = (
    PageSpec("pages/annotate.py", "Annotate", ":material/edit:", Permission.ANNOTATE),
    PageSpec("pages/grid.py", "Review grid", ":material/grid_view:", Permission.ANNOTATE),
    PageSpec("pages/labels.py", "Label review", ":material/rule:", Permission.REVIEW_LABELS),
    PageSpec(
        "pages/overview.py",
        "Project overview",
        ":material/monitoring:",
        Permission.VIEW_PROJECT_OVERVIEW,
    ),
    PageSpec(
        "pages/models.py",
        "Snapshots & models",
        ":material/model_training:",
        Permission.MANAGE_MODELS,
    ),
    PageSpec(
        "pages/sources.py", "Sources & errors", ":material/folder_open:", Permission.MANAGE_SOURCES
    ),
)
"""Every page, in navigation order; the first a role may use is its landing page."""


def pages_for(role: str) -> list[PageSpec]:
    """The pages ``role`` may open, in navigation order (none for an unknown role)."""
    return [page for page in PAGES if role_allowed(role, page.permission)]


def _role() -> str:
    user = st.session_state.get(state.USER)
    return user["role"] if user else ""


def allowed(permission: Permission) -> bool:
    """Whether the signed-in person may do it (to show or hide a link or a button)."""
    return role_allowed(_role(), permission)


def _refused(user: dict, permission: Permission, target: str | None) -> None:
    """Log a refusal at WARNING and keep it in the database."""
    log.warning(
        "refused: user %r (id %s, role %r) may not %s%s",
        user.get("name"),
        user.get("id"),
        user.get("role"),
        permission.value,
        f" ({target})" if target else "",
    )
    if user.get("id") is not None:
        with transaction(cache.engine()) as session:
            record_refusal(session, user["id"], user.get("role") or "", permission, target)


def permitted(permission: Permission, target: str | None = None) -> bool:
    """The guard at the top of a callback that writes: True if the signed-in person may do it;
    otherwise the refusal is logged (person, role, permission, ``target``: what it was for) and
    kept in the database, said on screen, and False.

    The role is read from the account, not from the session: a role changed while a page was
    open counts from the next press of its buttons."""
    user = auth.current_user() or {}
    try:
        require(user.get("role", ""), permission)
    except PermissionDeniedError:
        _refused(user, permission, target)
        st.session_state[state.REFUSED] = (
            f"Not done: your role ({user.get('role') or 'none'}) may not {permission.value}."
        )
        return False
    return True


def page_or_stop(script: str) -> None:
    """The first line of every page (``access.page_or_stop(__file__)``): says why the last action
    was refused, if one was, and ends the run unless the signed-in person may use this page.

    The navigation already leaves out pages a role may not use, but Streamlit runs a script of a
    folder named ``pages`` next to the entry script straight from its URL on a fresh server's
    first run, without the entry script: this check is what holds then.
    """
    message = st.session_state.pop(state.REFUSED, None)
    if message:
        st.error(message, icon=":material/block:")
    user = auth.current_user()
    if user is None:
        st.warning("Sign in first: open Loupe's start page.")
        st.stop()
    path = f"pages/{Path(script).name}"
    permission = next((p.permission for p in PAGES if p.path == path), None)
    if permission is None:  # a page nobody mapped opens to nobody (a test keeps PAGES whole)
        log.warning("refused: %s is not in access.PAGES, so it opens to no role", path)
    if permission is None or not role_allowed(user["role"], permission):
        if permission is not None:
            _refused(user, permission, path)
        st.error(f"This page is not open to your role ({user['role']}).", icon=":material/block:")
        st.stop()


def no_page() -> None:
    """What a person whose role opens no page sees instead of the app."""
    st.title("Loupe")
    st.warning(f"Your role ({_role() or 'none'}) opens no page here: ask an admin for one.")
