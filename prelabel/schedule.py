"""``loupe run-scheduled``: for every project, ingest new files of its watched folders, then
prelabel with its active model version.

Two copies never work at once: a pass holds a lock — a running ``scheduled`` job row, which a
partial unique index allows only once — and keeps its heartbeat fresh from a background thread.
A lock whose heartbeat is older than the expiry belongs to a killed pass and is taken over.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from prelabel.ingest import ingest
from prelabel.jobs import JobRecorder
from prelabel.prelabel import run_prelabel
from store.base import utcnow
from store.engine import transaction
from store.errors import NotFoundError
from store.models import Job, ModelVersion
from store.projects import list_projects

LOCK_EXPIRY_S = 60.0
HEARTBEAT_S = 5.0


class LockHeld(Exception):
    """Another pass holds the lock; its job id and last heartbeat are in the message."""


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _as_utc(moment):  # type: ignore[no-untyped-def]
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def scheduled_lock(engine: Engine, *, expiry_s: float = LOCK_EXPIRY_S) -> Iterator[JobRecorder]:
    """Hold the scheduled-pass lock for the ``with`` block.

    Raises
    ------
    LockHeld
        A live pass holds it.
    """
    job = _acquire(engine, expiry_s)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            with transaction(engine) as session:
                session.execute(update(Job).where(Job.id == job.id).values(heartbeat_at=utcnow()))

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield job
    except BaseException as e:
        stop.set()
        thread.join()
        job.fail(e)
        raise
    stop.set()
    thread.join()


def _acquire(engine: Engine, expiry_s: float) -> JobRecorder:
    for _ in range(2):
        try:
            return JobRecorder.start(engine, None, "scheduled", {"holder": _holder()})
        except IntegrityError:
            with transaction(engine) as session:
                held = session.scalar(
                    select(Job).where(Job.kind == "scheduled", Job.status == "running")
                )
                if held is None:
                    continue
                age = (utcnow() - _as_utc(held.heartbeat_at or held.started_at)).total_seconds()
                if age < expiry_s:
                    raise LockHeld(
                        f"another scheduled pass is running (job {held.id}, "
                        f"{held.params.get('holder', '?')}, heartbeat {age:.0f} s ago)"
                    ) from None
                session.execute(
                    update(Job)
                    .where(Job.id == held.id, Job.status == "running")
                    .values(
                        status="failed",
                        finished_at=utcnow(),
                        error=f"lock expired: no heartbeat for {age:.0f} s (killed?)",
                    )
                )
    raise LockHeld("the scheduled-pass lock could not be taken")


def run_scheduled_pass(
    engine: Engine, *, progress: bool = False, expiry_s: float = LOCK_EXPIRY_S
) -> dict:
    """One pass over every project; returns per-project ingest and prelabel counts.

    Raises
    ------
    LockHeld
        Another pass is running.
    """
    with scheduled_lock(engine, expiry_s=expiry_s) as job:
        with transaction(engine) as session:
            projects = [
                (p.id, p.name, list(p.settings.get("watch", []))) for p in list_projects(session)
            ]
        summary: dict[str, dict] = {}
        for project_id, name, folders in projects:
            entry: dict = {"ingested_items": 0, "suggestions": 0, "prelabel": None}
            existing = [Path(f) for f in folders if Path(f).exists()]
            if existing:
                report = ingest(engine, name, existing, progress=progress)
                entry["ingested_items"] = report.items_added
                entry["ingest_errors"] = len(report.errors)
            entry["missing_folders"] = [f for f in folders if not Path(f).exists()]
            with transaction(engine) as session:
                has_active = session.scalar(
                    select(ModelVersion.id).where(
                        ModelVersion.project_id == project_id, ModelVersion.status == "active"
                    )
                )
            if has_active is not None:
                try:
                    result = run_prelabel(engine, name, progress=progress)
                except NotFoundError as e:
                    entry["prelabel"] = str(e)
                else:
                    entry["suggestions"] = result["suggestions"]
                    entry["prelabel"] = "done"
            summary[name] = entry
        job.finish({"projects": summary})
        return {"job_id": job.id, "projects": summary}


def run_every(engine: Engine, every: timedelta, *, progress: bool = False) -> Iterator[dict]:
    """Passes forever, one every ``every`` (measured from the start of each pass)."""
    while True:
        started = time.monotonic()
        try:
            yield run_scheduled_pass(engine, progress=progress)
        except LockHeld as e:
            yield {"skipped": str(e)}
        time.sleep(max(0.0, every.total_seconds() - (time.monotonic() - started)))
