"""``loupe run-scheduled``: for every project, ingest new files of its watched folders, run the
active-learning loop if enough new human annotations arrived since its last loop, then prelabel
with its active model version.

"Enough" is ``loop_after_annotations`` (a setting, 200 unless changed; 0 turns it off) or the
project's own ``loop.after_annotations``; what counts is accept, edit, add and reject actions by
people (not ``import``) that no undo took back, made since the start of the project's latest
loop job — whether that loop succeeded or not, so a loop that fails is not retried on every pass,
only after as many new annotations again.

Two copies never work at once: a pass holds a lock — a running ``scheduled`` job row, which a
partial unique index allows only once — and keeps its heartbeat fresh from a background thread.
A lock whose heartbeat is stale (:mod:`store.jobs`) belongs to a killed pass and is taken over.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from prelabel.ingest import ingest
from prelabel.jobs import JobRecorder
from prelabel.loop import LoopStepFailed, loop_options, run_loop
from prelabel.prelabel import run_prelabel
from store.actions import not_undone
from store.engine import transaction
from store.errors import JobRunningError, NotFoundError, StoreError
from store.jobs import DEFAULT_STALE_AFTER_S
from store.models import Annotation, Item, Job, ModelVersion, Project, User
from store.projects import IMPORT_USER, get_project, list_projects
from store.settings import Settings, loop_settings


class LockHeld(Exception):
    """Another pass holds the lock; its job id and last heartbeat are in the message."""


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def scheduled_lock(
    engine: Engine, *, expiry_s: float = DEFAULT_STALE_AFTER_S
) -> Iterator[JobRecorder]:
    """Hold the scheduled-pass lock for the ``with`` block; ``expiry_s`` is the stale threshold
    of job heartbeats, past which a holder counts as killed and is taken over.

    Raises
    ------
    LockHeld
        A live pass holds it.
    """
    try:
        job = JobRecorder.start(
            engine, None, "scheduled", {"holder": _holder()}, stale_after_s=expiry_s
        )
    except JobRunningError as e:
        raise LockHeld(f"another scheduled pass is running{e.holders}") from None
    try:
        yield job
    except BaseException as e:
        job.fail(e)
        raise
    finally:
        job.stop_beating()


LOOP_ACTIONS = ("accept", "edit", "add", "reject")
"""Human actions that count towards the next scheduled loop."""


def last_loop_start(session: Session, project_id: int) -> dt.datetime | None:
    """When the project's latest loop job started (done, failed or running), if ever."""
    return session.scalar(
        select(func.max(Job.started_at)).where(Job.project_id == project_id, Job.kind == "loop")
    )


def human_annotations_since(session: Session, project_id: int, since: dt.datetime | None) -> int:
    """Accept, edit, add and reject actions by people (not imports) in the project since
    ``since`` (ever, when ``None``) that no undo took back."""
    query = (
        select(func.count())
        .select_from(Annotation)
        .join(Item, Item.id == Annotation.item_id)
        .join(User, User.id == Annotation.user_id)
        .where(
            Item.project_id == project_id,
            Annotation.action.in_(LOOP_ACTIONS),
            User.name != IMPORT_USER,
            not_undone(Annotation),
        )
    )
    if since is not None:
        query = query.where(Annotation.created_at >= since)
    return session.scalar(query) or 0


def loop_due(session: Session, project: Project, settings: Settings) -> tuple[bool, int, int]:
    """Whether a scheduled pass should run the loop for ``project``: (due, new human
    annotations, how many are needed; 0 means never).

    Raises
    ------
    store.errors.ValidationError
        The project's loop settings are malformed.
    """
    own = loop_settings(project.settings).after_annotations
    needed = settings.loop_after_annotations if own is None else own
    new = human_annotations_since(session, project.id, last_loop_start(session, project.id))
    return needed > 0 and new >= needed, new, needed


def _scheduled_loop(engine: Engine, name: str, settings: Settings, progress: bool) -> dict:
    """The loop for one project if due; its short summary, or why it did not run or failed."""
    try:
        with transaction(engine) as session:
            project = get_project(session, name)
            due, new, needed = loop_due(session, project, settings)
            options = loop_options(project, settings)
        if not due:
            return {"ran": False, "new_annotations": new, "needed": needed}
        summary = run_loop(
            engine,
            name,
            options,
            models_dir=settings.models_dir,
            progress=progress,
            stale_after_s=settings.job_stale_after_s,
        )
    except LoopStepFailed as e:
        return {"ran": True, "error": str(e), "job_id": e.job_id}
    except StoreError as e:
        return {"ran": False, "error": str(e)}
    short = {k: v for k, v in summary.items() if k not in ("steps", "pseudo")}
    return short | {"ran": True, "new_annotations": new, "needed": needed}


def run_scheduled_pass(
    engine: Engine,
    *,
    progress: bool = False,
    expiry_s: float | None = None,
    settings: Settings | None = None,
) -> dict:
    """One pass over every project; returns per-project ingest, loop and prelabel results.

    ``settings`` gives the loop's trigger, where models go and the stale threshold of job
    heartbeats (``expiry_s`` overrides it for the lock); the defaults when not given.

    Raises
    ------
    LockHeld
        Another pass is running.
    """
    settings = settings or Settings.model_construct()
    stale_after_s = settings.job_stale_after_s
    with scheduled_lock(engine, expiry_s=expiry_s or stale_after_s) as job:
        with transaction(engine) as session:
            projects = [
                (p.id, p.name, list(p.settings.get("watch", []))) for p in list_projects(session)
            ]
        summary: dict[str, dict] = {}
        for project_id, name, folders in projects:
            entry: dict = {"ingested_items": 0, "suggestions": 0, "prelabel": None}
            existing = [Path(f) for f in folders if Path(f).exists()]
            if existing:
                report = ingest(
                    engine,
                    name,
                    existing,
                    progress=progress,
                    stale_after_s=stale_after_s,
                    media_roots=settings.media_roots,
                )
                entry["ingested_items"] = report.items_added
                entry["ingest_errors"] = len(report.errors)
            entry["missing_folders"] = [f for f in folders if not Path(f).exists()]
            entry["loop"] = _scheduled_loop(engine, name, settings, progress)
            with transaction(engine) as session:
                has_active = session.scalar(
                    select(ModelVersion.id).where(
                        ModelVersion.project_id == project_id, ModelVersion.status == "active"
                    )
                )
            if has_active is not None:
                try:
                    result = run_prelabel(
                        engine, name, progress=progress, stale_after_s=stale_after_s
                    )
                except NotFoundError as e:
                    entry["prelabel"] = str(e)
                else:
                    entry["suggestions"] = result["suggestions"] + entry["loop"].get(
                        "suggestions", 0
                    )
                    entry["prelabel"] = "done"
            summary[name] = entry
        job.finish({"projects": summary})
        return {"job_id": job.id, "projects": summary}


def run_every(
    engine: Engine,
    every: timedelta,
    *,
    progress: bool = False,
    settings: Settings | None = None,
) -> Iterator[dict]:
    """Passes forever, one every ``every`` (measured from the start of each pass)."""
    while True:
        started = time.monotonic()
        try:
            yield run_scheduled_pass(engine, progress=progress, settings=settings)
        except LockHeld as e:
            yield {"skipped": str(e)}
        time.sleep(max(0.0, every.total_seconds() - (time.monotonic() - started)))
