"""The project a person works on, chosen in the sidebar, and the progress shown beside it."""

from __future__ import annotations

import streamlit as st

from annotator import cache, state
from annotator.review import ProjectRef
from store.annotations import done_since, progress, start_of_day
from store.engine import transaction
from store.projects import list_projects


@st.cache_data(ttl=30, show_spinner=False)
def _projects(url: str) -> list[ProjectRef]:
    with transaction(cache.engine(url)) as session:
        return [
            ProjectRef(p.id, p.name, p.modality, tuple(p.classes), dict(p.settings))
            for p in list_projects(session)
        ]


def projects() -> list[ProjectRef]:
    return _projects(cache.settings().database_url)


def project() -> ProjectRef | None:
    """The chosen project (the first one until a person picks another)."""
    available = projects()
    if not available:
        return None
    chosen = st.session_state.get(state.PROJECT)
    for candidate in available:
        if candidate.name == chosen:
            return candidate
    st.session_state[state.PROJECT] = available[0].name
    return available[0]


def choose_project_in_sidebar() -> ProjectRef | None:
    available = projects()
    if not available:
        st.sidebar.info("No project yet: `loupe project create` and `loupe ingest` make one.")
        return None
    current = project()
    names = [p.name for p in available]
    modality = {p.name: p.modality for p in available}
    st.sidebar.selectbox(
        "Project",
        names,
        index=names.index(current.name) if current else 0,
        key=state.PROJECT_CHOICE,
        on_change=_chosen,
        format_func=lambda name: f"{name} ({modality[name]})",
    )
    return project()


def _chosen() -> None:
    st.session_state[state.PROJECT] = st.session_state[state.PROJECT_CHOICE]


@st.cache_data(ttl=30, show_spinner=False)
def _progress(url: str, project_id: int) -> dict:
    with transaction(cache.engine(url)) as session:
        return progress(session, project_id)


def project_or_stop() -> ProjectRef:
    """The chosen project; with none at all, says how to make one and ends the page's run."""
    chosen = project()
    if chosen is None:
        st.info("No project yet. Create one with `loupe project create` and ingest data into it.")
        st.stop()
    return chosen


def project_progress(project_id: int) -> dict:
    """Items, done, left and done per class, at most 30 s old: counting a million items costs
    tens of milliseconds, too much for every action (the person's own "done today" is exact)."""
    return _progress(cache.settings().database_url, project_id)


def done_today(project_id: int, user_id: int) -> int:
    with transaction(cache.engine()) as session:
        return done_since(session, project_id, user_id, start_of_day())
