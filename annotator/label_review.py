"""What the label-review buttons do: the reviewer's decision becomes an annotation, and the
issue is closed, in one transaction."""

from __future__ import annotations

import time

import streamlit as st

from annotator import access, cache, state
from annotator.review import ProjectRef, signed_in
from store import label_issues
from store.annotations import Action, record
from store.engine import transaction
from store.models import Project, User
from store.permissions import Permission
from store.queue import QueueItem


def shown(issue_id: int) -> None:
    """Note when an issue appeared, once, so the decision's duration can be recorded."""
    if st.session_state.get(state.ISSUE_SHOWN, (None, 0.0))[0] != issue_id:
        st.session_state[state.ISSUE_SHOWN] = (issue_id, time.monotonic())


def decide(
    project: ProjectRef, issue_id: int, item: QueueItem, given: str, label: str, status: str
) -> None:
    """Keep ``given`` (the reviewer's own vote for it) or change it to ``label`` (an edit)."""
    if not access.permitted(Permission.REVIEW_LABELS, f"label issue {issue_id}"):
        return
    started = st.session_state.get(state.ISSUE_SHOWN, (None, None))
    duration = time.monotonic() - started[1] if started[0] == issue_id else None
    with transaction(cache.engine()) as session:
        record(
            session,
            session.get(Project, project.id),
            session.get(User, signed_in()["id"]),
            [
                Action(
                    item.item_id,
                    "accept" if label == given else "edit",
                    label,
                    item.start_s,
                    item.end_s,
                    item.suggestion_id,
                    item.model_version_id,
                    duration,
                )
            ],
        )
        label_issues.resolve_issue(session, issue_id, status)
    verb = f"kept as {label}" if label == given else f"changed from {given} to {label}"
    st.session_state[state.NOTICE] = f"Item {item.item_id} {verb}."
