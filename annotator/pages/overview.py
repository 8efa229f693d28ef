"""Project overview: progress, class balance, who did what and when, the model, the latest jobs,
ingest errors, and (for admins) failed sign-ins."""

from pathlib import Path

import streamlit as st

from annotator import access, cache, figures, workspace
from learner.agreement import cohen_kappa
from learner.strategies import DEFAULT_AUDIT_SHARE, DEFAULT_STRATEGY
from store import reports
from store.accounts import account_report
from store.catalog import project_status
from store.engine import transaction
from store.jobs import recent_jobs
from store.permissions import Permission

access.page_or_stop(__file__)

STABLE_KAPPA = 0.99
STABLE_WINDOW = 3
"""Predictions count as stable when successive versions agree this well this many times running."""
HOUR_WINDOWS = {"last 24 hours": 1, "last 7 days": 7, "last 30 days": 30}
SHOWN_JOBS = 10

project = workspace.project_or_stop()
st.header(f"Project overview · {project.name}")

window = st.segmented_control(
    "Activity window", list(HOUR_WINDOWS), default="last 7 days", key="overview-window"
)
days = HOUR_WINDOWS[window or "last 7 days"]
with transaction(cache.engine()) as session:
    status = project_status(session, project.id)
    per_user = reports.annotations_per_user(session, project.id)
    per_hour = reports.annotations_per_hour(session, project.id, days=days)
    version = reports.shown_version(reports.model_versions(session, project.id))
    error_count = reports.ingest_error_count(session, project.id)
    newest_errors = reports.ingest_errors(session, project.id, limit=5)
progress = workspace.project_progress(project.id)

columns = st.columns(6)
columns[0].metric("Items", f"{progress['items']:,}")
columns[1].metric("Done", f"{progress['done']:,}")
columns[2].metric("Left", f"{progress['left']:,}")
columns[3].metric("Suggestions", f"{status['suggestions']:,}")
columns[4].metric(
    "Model version" if version is None else f"Model version ({version.status})",
    "none" if version is None else f"#{version.id}",
)
columns[5].metric(
    "Macro-F1",
    "—" if version is None or version.macro_f1 is None else f"{version.macro_f1:.3f}",
)

if progress["items"] == 0:
    st.info(f"This project has no items yet: add some with `loupe ingest {project.name} FOLDER`.")

st.subheader("Class balance")
if progress["by_class"]:
    balance = sorted(progress["by_class"].items())
    st.bar_chart(
        {"class": [name for name, _ in balance], "done items": [n for _, n in balance]},
        x="class",
        y="done items",
        horizontal=True,
    )
else:
    st.info("No item is done yet: the balance appears with the first labels.")

st.subheader("Annotations per person")
if per_user:
    st.dataframe(
        [
            {"user": a.user, "total": a.total}
            | {action: a.by_action.get(action, 0) for action in reports.HUMAN_ACTIONS}
            | {
                "time spent (min)": round(a.time_spent_s / 60, 1),
                "s per action": round(a.time_spent_s / a.total, 1) if a.total else None,
            }
            for a in per_user
        ],
        hide_index=True,
    )
else:
    st.info("Nobody has annotated in this project yet (imported labels are not counted).")

st.subheader(f"Annotations per hour ({window or 'last 7 days'})")
if per_hour:
    st.bar_chart(
        {
            "hour": [h.hour for h in per_hour],
            "annotations": [h.count for h in per_hour],
            "user": [h.user for h in per_hour],
        },
        x="hour",
        y="annotations",
        color="user",
    )
else:
    st.info("No annotation in this window.")

st.subheader("Model")
if version is None:
    st.info(f"No model version yet: `loupe snapshot {project.name}`, then `loupe train`.")
elif not version.evaluated:
    st.info(
        f"Model version #{version.id} ({version.arch}) is not evaluated yet: "
        f"`loupe evaluate {version.id}`."
    )
else:
    st.caption(
        f"Version #{version.id} ({version.arch}, {version.status}), trained on snapshot "
        f"{version.snapshot_id}: macro-F1 {version.macro_f1:.3f}, ECE {version.ece:.3f} → "
        f"{version.ece_calibrated:.3f} after temperature scaling (T = {version.temperature:.2f})."
    )
    left, right = st.columns(2)
    with left:
        st.plotly_chart(
            figures.confusion_figure(version.evaluation["confusion_matrix"], version.classes),
            key="overview-confusion",
        )
    with right:
        reliability = Path(version.report_dir or "") / "reliability.png"
        if version.report_dir and reliability.is_file():
            st.image(str(reliability), caption="Reliability before and after calibration")
        else:
            st.info(f"No reliability diagram at {reliability}.")

st.subheader("Active learning")
with transaction(cache.engine()) as session:
    loop = reports.loop_status(session, project.id)
    curve = reports.learning_curve(session, project.id)
    pairs = reports.stop_set_predictions(session, project.id)
columns = st.columns(4)
columns[0].metric("Query strategy", loop.strategy or f"{DEFAULT_STRATEGY} (default)")
columns[1].metric(
    "Audit share",
    f"{100 * (DEFAULT_AUDIT_SHARE if loop.audit_share is None else loop.audit_share):.0f} %",
)
columns[2].metric(
    "Audit labels",
    f"{loop.audit_items:,}",
    help=(
        "Items labelled from the random audit stream: the unbiased sample that pseudo-label "
        "thresholds are chosen on."
    ),
)
columns[3].metric("Label issues to review", f"{loop.open_label_issues:,}")
left, right = st.columns(2)
with left:
    if curve:
        st.plotly_chart(
            figures.learning_curve_figure(
                [p.human_labels for p in curve],
                [p.macro_f1 for p in curve],
                [p.version_id for p in curve],
                [p.test_items for p in curve],
            ),
            key="overview-learning-curve",
        )
    else:
        st.info("The learning curve starts with the first evaluated model version.")
with right:
    if pairs:
        kappas = [cohen_kappa(p.labels, p.previous_labels) for p in pairs]
        st.plotly_chart(
            figures.agreement_figure(
                [p.version_id for p in pairs], kappas, [len(p.labels) for p in pairs], STABLE_KAPPA
            ),
            key="overview-agreement",
        )
        recent = kappas[-STABLE_WINDOW:]
        if len(recent) == STABLE_WINDOW and min(recent) >= STABLE_KAPPA:
            st.success(
                f"The last {STABLE_WINDOW} versions agree with their predecessors at kappa ≥ "
                f"{STABLE_KAPPA:g}: predictions have stabilised, more labels of this kind are "
                "unlikely to change the model much."
            )
        else:
            st.caption(
                f"Stopping signal: kappa ≥ {STABLE_KAPPA:g} for {STABLE_WINDOW} versions in a row "
                f"(now {kappas[-1]:.3f} on {len(pairs[-1].labels)} stop-set items)."
            )
    else:
        st.info("Agreement between versions appears once two versions have suggestions.")

st.subheader("Jobs")
with transaction(cache.engine()) as session:
    jobs = recent_jobs(
        session, project.id, stale_after_s=cache.settings().job_stale_after_s, limit=SHOWN_JOBS
    )
if jobs:
    st.dataframe(
        [
            {
                "job": job.id,
                "kind": job.kind,
                "status": job.status,
                "done": job.done,
                "total": job.total,
                "started": job.started_at,
                "heartbeat (s ago)": job.heartbeat_age_s,
                "finished": job.finished_at,
                "error": job.error,
            }
            for job in jobs
        ],
        hide_index=True,
    )
    st.caption(
        "A running job that stopped sending its heartbeat was killed: it shows as interrupted, "
        "and the next run of its kind takes over where it stopped."
    )
else:
    st.caption(f"No job has run in this project yet: `loupe ingest {project.name} FOLDER`.")

st.subheader("Ingest errors")
st.metric("Ingest errors", f"{error_count:,}")
if newest_errors:
    st.dataframe(
        [
            {
                "when": e.created_at,
                "path": e.path,
                "member": e.member,
                "item": e.item_id,
                "reason": e.reason,
            }
            for e in newest_errors
        ],
        hide_index=True,
    )
else:
    st.caption("Every file was read.")
if access.allowed(Permission.MANAGE_SOURCES):
    st.page_link("pages/sources.py", label="All sources and errors", icon=":material/folder_open:")

if access.allowed(Permission.MANAGE_USERS):
    st.subheader("Failed sign-ins")
    with transaction(cache.engine()) as session:
        failing = [a for a in account_report(session) if a.failed_sign_ins]
    if failing:
        st.dataframe(
            [
                {"user": a.name, "failures": a.failed_sign_ins, "locked until": a.locked_until}
                for a in failing
            ],
            hide_index=True,
        )
        st.caption("`loupe user unlock NAME` ends a lockout and forgets the failures.")
    else:
        st.caption("No failed sign-ins since each account's last success.")
