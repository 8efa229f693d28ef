"""Sources & errors: every file of the project, and everything that could not be read."""

import csv
import io

import streamlit as st

from annotator import access, cache, state, workspace
from store import reports
from store.archive import archive, unarchive
from store.deletion import delete_target
from store.engine import transaction
from store.errors import StoreError
from store.permissions import Permission
from store.projects import get_project

access.page_or_stop(__file__)

ERROR_COLUMNS = ("created_at", "path", "member", "item_id", "reason")

project = workspace.project_or_stop()
st.header(f"Sources & errors · {project.name}")

with transaction(cache.engine()) as session:
    sources = reports.sources(session, project.id)
    errors = reports.ingest_errors(session, project.id)


def _size(size_bytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size_bytes < 1024 or unit == "GB":
            return f"{size_bytes:.0f} {unit}" if unit == "B" else f"{size_bytes:.1f} {unit}"
        size_bytes /= 1024  # type: ignore[assignment]
    return ""


def _matches(error: reports.IngestErrorRow, needle: str) -> bool:
    haystack = " ".join(str(part) for part in (error.path, error.member or "", error.reason))
    return needle.casefold() in haystack.casefold()


def _csv(rows: list[reports.IngestErrorRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ERROR_COLUMNS)
    for e in rows:
        writer.writerow(
            [e.created_at.isoformat(), e.path, e.member or "", e.item_id or "", e.reason]
        )
    return out.getvalue()


st.subheader(f"Sources ({len(sources)})")
if sources:
    st.dataframe(
        [
            {
                "uri": s.uri,
                "kind": s.kind,
                "items": s.items,
                "errors": s.errors,
                "size": _size(s.size_bytes),
                "complete": s.complete,
                "archived": s.archived,
                "registered (UTC)": s.created_at,
            }
            for s in sources
        ],
        hide_index=True,
    )
    if not all(s.complete for s in sources):
        st.caption(
            "An incomplete source had not registered all its items when ingest stopped; "
            f"`loupe ingest {project.name} FOLDER` again completes it."
        )
else:
    st.info(f"No source yet: `loupe ingest {project.name} FOLDER` registers files.")

st.subheader(f"Ingest errors ({len(errors)})")
if errors:
    needle = st.text_input(
        "Filter", placeholder="part of a path, entry or reason", key="sources-error-filter"
    ).strip()
    shown = [e for e in errors if _matches(e, needle)] if needle else errors
    if needle:
        st.caption(f"{len(shown)} of {len(errors)} errors match “{needle}”.")
    if not shown:
        st.info(f"No ingest error matches “{needle}”.")
    else:
        st.dataframe(
            [
                {
                    "when (UTC)": e.created_at,
                    "path": e.path,
                    "member": e.member,
                    "item": e.item_id,
                    "reason": e.reason,
                }
                for e in shown
            ],
            hide_index=True,
        )
        st.download_button(
            "Download as CSV" if not needle else f"Download the {len(shown)} shown as CSV",
            _csv(shown),
            file_name=f"{project.name}-ingest-errors.csv",
            mime="text/csv",
            icon=":material/download:",
            key="sources-error-csv",
        )
else:
    st.success("No ingest errors: every file and entry was read.")

user = st.session_state.get(state.USER) or {}
if access.allowed(Permission.MANAGE_SOURCES):
    st.subheader("Archive or delete")
    st.caption(
        "Archive hides from the queue, new snapshots, exports and counts, and can be undone. "
        "Delete removes what nobody annotated; forced, it removes annotated items too and keeps "
        "a copy of their annotations, with your name and reason, in the deletion record. Items "
        "in a snapshot can only be archived."
    )
    kind = st.radio("What", ["source", "item", "project"], horizontal=True, key="admin-kind")
    ref = None
    if kind == "source" and sources:
        ref = str(
            st.selectbox(
                "Source",
                [s.id for s in sources],
                format_func=lambda i: next(
                    f"{s.uri}{' (archived)' if s.archived else ''}" for s in sources if s.id == i
                ),
                key="admin-source",
            )
        )
    elif kind == "item":
        ref = str(st.number_input("Item id", min_value=1, step=1, key="admin-item"))
    verb = st.radio("Do", ["archive", "unarchive", "delete"], horizontal=True, key="admin-verb")
    force = verb == "delete" and st.checkbox("Also annotated items (force)", key="admin-force")
    reason = st.text_input("Reason", key="admin-reason") if verb == "delete" else None
    if st.button(
        f"{verb.capitalize()} {kind}", key="admin-apply", disabled=kind != "project" and ref is None
    ) and access.permitted(Permission.MANAGE_SOURCES, f"{verb} {kind} {ref or project.name}"):
        try:
            with transaction(cache.engine()) as session:
                target = get_project(session, project.name)
                if verb == "delete":
                    done = delete_target(
                        session, target, kind, ref, actor=user["name"], reason=reason, force=force
                    ).as_dict()
                else:
                    done = (archive if verb == "archive" else unarchive)(
                        session, target, kind, ref
                    ).as_dict()
        except StoreError as e:
            st.error(str(e))
        else:
            st.success(f"{verb}d {kind} {done['target']}: {done['items']} items")
