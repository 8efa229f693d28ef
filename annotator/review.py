"""What the buttons do: fetch the next item from the queue, record actions, undo, add segments.

These functions run as widget callbacks (before the fragment reruns), each in one transaction
that records the action and leases the next item, so an accept costs one round of queries.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import streamlit as st

from annotator import access, cache, state
from learner.strategies import DEFAULT_AUDIT_SHARE
from store import leases, queue
from store.annotations import Action, add_segment, record, undo_last
from store.catalog import record_ingest_error
from store.engine import transaction
from store.errors import LeaseLostError
from store.models import Project, User
from store.permissions import Permission
from store.queue import QueueItem

SPAN_STEP_S = 0.005


@dataclass(frozen=True, slots=True)
class ProjectRef:
    """The few project fields a page needs, detached from any session."""

    id: int
    name: str
    modality: str
    classes: tuple[str, ...]
    settings: dict


def signed_in() -> dict:
    return st.session_state[state.USER]


def lease_length() -> dt.timedelta:
    return dt.timedelta(minutes=cache.settings().lease_minutes)


def audit_share(project: ProjectRef) -> float:
    """The project's share of random audit picks in the queue."""
    return float(project.settings.get("audit_share", DEFAULT_AUDIT_SHARE))


def acting_user(session) -> User:  # type: ignore[no-untyped-def]
    return session.get(User, signed_in()["id"])


def start_timing() -> None:
    st.session_state[state.ACTION_STARTED] = time.perf_counter()


def finish_timing(view: str) -> float | None:
    """Server time from the last action's callback to the end of this rerun (ms), logged once."""
    started = st.session_state.pop(state.ACTION_STARTED, None)
    if started is None:
        return st.session_state.get(state.SERVER_MS)
    elapsed = (time.perf_counter() - started) * 1000
    st.session_state[state.SERVER_MS] = elapsed
    log = cache.settings().timing_log
    if log is not None:
        with open(log, "a") as out:
            out.write(f"{time.time():.3f},{view},{elapsed:.2f}\n")
    return elapsed


# --- the single-item editor (audio, spectrum, crop) ---------------------------------------


def current_item(project: ProjectRef) -> QueueItem | None:
    """The item on screen, fetching (and leasing) the next one if there is none."""
    if st.session_state.get(state.ITEM_PROJECT) != project.id:
        st.session_state[state.ITEM] = None
        st.session_state[state.ITEM_PROJECT] = project.id
    if st.session_state.get(state.ITEM) is None:
        _show_next(project)
    return st.session_state.get(state.ITEM)


def _show(item: QueueItem | None) -> None:
    st.session_state[state.ITEM] = item
    st.session_state[state.SHOWN_AT] = time.monotonic()
    st.session_state[state.ADDING] = False


def _show_next(project: ProjectRef, session=None) -> None:  # type: ignore[no-untyped-def]
    exclude = [i.item_id for i in st.session_state.get(state.PAGE) or []]
    if session is None:
        with transaction(cache.engine()) as session:
            _show_next(project, session)
        return
    items = queue.next_items(
        session,
        project.id,
        signed_in()["id"],
        k=1,
        lease=lease_length(),
        exclude=exclude,
        audit_share=audit_share(project),
    )
    _show(items[0] if items else None)


def _elapsed() -> float:
    return round(time.monotonic() - st.session_state.get(state.SHOWN_AT, time.monotonic()), 3)


def edit_span(item: QueueItem) -> tuple[float, float] | None:
    """The span being edited: the slider's value, else the suggested or registered span."""
    value = st.session_state.get(f"{state.SPAN}-{item.item_id}")
    if value is not None:
        return (float(value[0]), float(value[1]))
    return suggested_span(item)


def suggested_span(item: QueueItem) -> tuple[float, float] | None:
    start = item.suggested_start_s if item.suggested_start_s is not None else item.start_s
    end = item.suggested_end_s if item.suggested_end_s is not None else item.end_s
    return None if start is None or end is None else (float(start), float(end))


def _same_span(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a[0] - b[0]) < SPAN_STEP_S / 2 and abs(a[1] - b[1]) < SPAN_STEP_S / 2


def choose(project: ProjectRef, label: str) -> None:
    """A class key: label the item (accept if it is the suggestion unchanged, else edit); while
    adding, register the drawn span as a new segment of that class instead."""
    start_timing()
    item: QueueItem = st.session_state[state.ITEM]
    span = edit_span(item) if project.modality == "audio" else None
    if st.session_state.get(state.ADDING):
        add_drawn_segment(project, label)
        return
    unchanged = label == item.label and _same_span(span, suggested_span(item))
    action = "accept" if unchanged and item.suggestion_id is not None else "edit"
    _act(project, action, label, span)


def accept(project: ProjectRef) -> None:
    """Accept the suggestion (with the edited span, which makes it an edit)."""
    item: QueueItem = st.session_state[state.ITEM]
    if item.label is None:
        st.session_state[state.NOTICE] = "No suggestion to accept: choose a class (1–9)."
        return
    choose(project, item.label)


def reject(project: ProjectRef) -> None:
    """No event here (audio), or none of the classes."""
    start_timing()
    _act(project, "reject", None, None)


def skip(project: ProjectRef) -> None:
    start_timing()
    _act(project, "skip", None, None)


def _act(project: ProjectRef, action: str, label: str | None, span) -> None:  # type: ignore[no-untyped-def]
    if not access.permitted(Permission.ANNOTATE):
        return
    item: QueueItem = st.session_state[state.ITEM]
    try:
        with transaction(cache.engine()) as session:
            record(
                session,
                session.get(Project, project.id),
                acting_user(session),
                [
                    Action(
                        item.item_id,
                        action,
                        label,
                        span[0] if span else None,
                        span[1] if span else None,
                        item.suggestion_id,
                        item.model_version_id,
                        _elapsed(),
                    )
                ],
                require_lease=True,
            )
            _show_next(project, session)
    except LeaseLostError:
        _show_next(project)
        st.session_state[state.NOTICE] = (
            f"Item {item.item_id} was not saved: it was kept for you too long and someone else "
            "took it (or labelled it) meanwhile. Here is the next one."
        )
        return
    described = {"reject": "rejected", "skip": "skipped"}.get(action, f"{action}ed as {label}")
    st.session_state[state.NOTICE] = f"Item {item.item_id} {described}."


def toggle_adding() -> None:
    st.session_state[state.ADDING] = not st.session_state.get(state.ADDING, False)


def add_drawn_segment(project: ProjectRef, label: str) -> None:
    """Register the drawn span as a segment nothing proposed; the current item stays."""
    if not access.permitted(Permission.ANNOTATE):
        return
    item: QueueItem = st.session_state[state.ITEM]
    span = edit_span(item)
    if span is None:
        return
    with transaction(cache.engine()) as session:
        new_id, _ = add_segment(
            session,
            session.get(Project, project.id),
            acting_user(session),
            source_id=item.source_id,
            start_s=span[0],
            end_s=span[1],
            label=label,
            duration_s=_elapsed(),
        )
    st.session_state[state.ADDING] = False
    st.session_state[f"{state.SPAN}-{item.item_id}"] = suggested_span(item)
    st.session_state[state.NOTICE] = (
        f"Added segment {span[0]:.3f}–{span[1]:.3f} s as {label} (item {new_id})."
    )


def on_box(item_id: int, chart_key: str, window: tuple[float, float]) -> None:
    """A box dragged on the waveform becomes the edit span (5 ms steps, inside the window)."""
    selection = st.session_state.get(chart_key) or {}
    boxes = (selection.get("selection") or {}).get("box") or []
    if not boxes:
        return
    xs = boxes[-1].get("x") or []
    if len(xs) < 2:
        return
    start, end = sorted(float(x) for x in xs[:2])
    start, end = max(start, window[0]), min(end, window[1])
    start, end = snap(start), snap(end)
    if end - start >= SPAN_STEP_S:
        st.session_state[f"{state.SPAN}-{item_id}"] = (start, end)


def snap(seconds: float) -> float:
    return round(round(seconds / SPAN_STEP_S) * SPAN_STEP_S, 3)


def undo(project: ProjectRef) -> None:
    """Take back the person's last action and show its (first) item again."""
    current: QueueItem | None = st.session_state.get(state.ITEM)
    shown = take_back(project, [current.item_id] if current else [], limit=1)
    if shown:
        _show(shown[0])


def take_back(project: ProjectRef, on_screen: list[int], limit: int | None) -> list[QueueItem]:
    """Undo the last action, give back the leases of what is on screen, lease the undone items
    again (up to ``limit``) and return them to be shown; an empty list if nothing was undone."""
    if not access.permitted(Permission.ANNOTATE):
        return []
    start_timing()
    with transaction(cache.engine()) as session:
        items = undo_last(session, session.get(Project, project.id), acting_user(session))
        if not items:
            st.session_state[state.NOTICE] = "Nothing to undo."
            return []
        wanted = items[:limit]
        leases.release(session, signed_in()["id"], [i for i in on_screen if i not in items])
        got = leases.claim(session, signed_in()["id"], wanted, lease=lease_length())
        version = queue.active_version(session, project.id)
        shown = queue.load_items(session, [i for i in wanted if i in got], version and version.id)
    st.session_state[state.NOTICE] = (
        f"Undone: item {items[0]} is back."
        if len(items) == 1
        else f"Undone: {len(items)} items are back in the queue."
    )
    return shown


def mark_unreadable(project: ProjectRef, item: QueueItem, reason: str) -> None:
    """Record that the item's media cannot be read, so that nobody is handed it again."""
    if not access.permitted(Permission.ANNOTATE):
        return
    with transaction(cache.engine()) as session:
        record_ingest_error(
            session, project.id, item.source_uri, reason, member=item.member, item_id=item.item_id
        )
