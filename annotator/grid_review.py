"""What the crop grid's buttons do: lease a page of crops, flip one, accept the page, undo it.

Like the single-item editor's callbacks (``annotator.review``), each runs in one transaction that
records the page and leases the next one.
"""

from __future__ import annotations

import time

import streamlit as st

from annotator import access, cache, review, state
from annotator.review import ProjectRef
from store import queue
from store.annotations import Action, record
from store.engine import transaction
from store.errors import LeaseLostError
from store.models import Project
from store.permissions import Permission
from store.queue import QueueItem


def current_page(project: ProjectRef, size: int) -> list[QueueItem]:
    if st.session_state.get(state.PAGE_PROJECT) != project.id:
        st.session_state[state.PAGE] = None
        st.session_state[state.PAGE_PROJECT] = project.id
    if st.session_state.get(state.PAGE) is None:
        _next_page(project, size)
    return st.session_state[state.PAGE]


def _show_page(items: list[QueueItem]) -> None:
    st.session_state[state.PAGE] = items
    st.session_state[state.FLIPS] = {}
    st.session_state[state.PAGE_SHOWN_AT] = time.monotonic()


def _next_page(project: ProjectRef, size: int, session=None) -> None:  # type: ignore[no-untyped-def]
    if session is None:
        with transaction(cache.engine()) as session:
            _next_page(project, size, session)
        return
    single = st.session_state.get(state.ITEM)
    items = queue.next_items(
        session,
        project.id,
        review.signed_in()["id"],
        k=size,
        lease=review.lease_length(),
        exclude=[single.item_id] if single is not None else [],
        audit_share=review.audit_share(project),
    )
    _show_page(items)


def page_label(item: QueueItem) -> str | None:
    """The label a crop on the grid will get: flipped, else its suggestion."""
    return st.session_state.get(state.FLIPS, {}).get(item.item_id, item.label)


def flip(project: ProjectRef, item: QueueItem) -> None:
    """Move a crop to the next class (two classes: the other one)."""
    current = page_label(item)
    classes = list(project.classes)
    following = (
        classes[0] if current is None else classes[(classes.index(current) + 1) % len(classes)]
    )
    flips = dict(st.session_state.get(state.FLIPS, {}))
    if following == item.label:
        flips.pop(item.item_id, None)
    else:
        flips[item.item_id] = following
    st.session_state[state.FLIPS] = flips


def accept_page(project: ProjectRef, size: int) -> None:
    """Every crop on the page gets its shown label (crops with none are skipped)."""
    if not access.permitted(Permission.ANNOTATE):
        return
    review.start_timing()
    page: list[QueueItem] = st.session_state.get(state.PAGE) or []
    if not page:
        return
    each = round((time.monotonic() - st.session_state[state.PAGE_SHOWN_AT]) / len(page), 3)
    actions = []
    for item in page:
        label = page_label(item)
        if label is None:
            action = "skip"
        elif label == item.label and item.suggestion_id is not None:
            action = "accept"
        else:
            action = "edit"
        actions.append(
            Action(
                item.item_id,
                action,
                label,
                None,
                None,
                item.suggestion_id,
                item.model_version_id,
                each,
            )
        )
    lost: list[int] = []
    try:
        _record_page(project, size, actions)
    except LeaseLostError as e:  # save the crops still held; the others belong to someone else
        lost = e.item_ids
        actions = [a for a in actions if a.item_id not in set(lost)]
        _record_page(project, size, actions)
    flipped = sum(a.action == "edit" for a in actions)
    st.session_state[state.NOTICE] = f"Page of {len(actions)} saved ({flipped} flipped)." + (
        f" {len(lost)} not saved: kept too long, someone else took them meanwhile." if lost else ""
    )


def _record_page(project: ProjectRef, size: int, actions: list[Action]) -> None:
    with transaction(cache.engine()) as session:
        record(
            session,
            session.get(Project, project.id),
            review.acting_user(session),
            actions,
            require_lease=True,
        )
        _next_page(project, size, session)


def undo_page(project: ProjectRef) -> None:
    """Take back the last action; the items it touched come back as the page."""
    on_screen = [i.item_id for i in st.session_state.get(state.PAGE) or []]
    page = review.take_back(project, on_screen, limit=None)
    if page:
        _show_page(page)
