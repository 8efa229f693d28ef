"""Job rows: start, progress, heartbeat, finish, fail, and which running jobs are dead.

A job is alive while its process keeps its heartbeat fresh; the process beats from a background
thread (:class:`prelabel.jobs.JobRecorder`), so a job stuck in one long step (an epoch, a large
file) beats as often as one that advances. A ``running`` job whose heartbeat is older than the
stale threshold was killed: every report shows it as ``interrupted``, and the next job of the
same kind on the same project takes it over, storing ``interrupted`` with the reason, so the
row stays true once the threshold is changed or the new job is gone too.

One threshold decides both: :data:`DEFAULT_STALE_AFTER_S`, or the ``job_stale_after_s``
setting; a job beats :data:`BEATS_PER_STALE` times within it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.base import utcnow
from store.errors import JobRunningError, NotFoundError
from store.models import Job

DEFAULT_STALE_AFTER_S = 60.0
"""A running job without a heartbeat for this long is taken for dead."""

BEATS_PER_STALE = 6
"""Heartbeats within the stale threshold: a few late ones (a database busy with a long write,
a machine under load) do not make a live job look dead."""


def beat_interval(stale_after_s: float) -> float:
    """Seconds between two heartbeats of a job judged with ``stale_after_s``."""
    return stale_after_s / BEATS_PER_STALE


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every moment we write is UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def heartbeat_age(job: Job, now: dt.datetime) -> float:
    """Seconds since the job's last sign of life (its heartbeat, else its start)."""
    last = job.heartbeat_at or job.started_at or job.created_at
    return (now - _utc(last)).total_seconds()


def is_stale(job: Job, now: dt.datetime, stale_after_s: float) -> bool:
    """Whether ``job`` says it runs but has not beaten for longer than ``stale_after_s``."""
    return job.status == "running" and heartbeat_age(job, now) > stale_after_s


def _same_kind(kind: str, project_id: int | None) -> tuple:  # type: ignore[type-arg]
    project = Job.project_id.is_(None) if project_id is None else Job.project_id == project_id
    return (Job.kind == kind, project, Job.status == "running")


def start_job(
    session: Session,
    *,
    kind: str,
    project_id: int | None,
    params: dict,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> tuple[Job, list[int]]:
    """Record a running job; running jobs of the same kind and project whose heartbeat is stale
    are marked ``interrupted`` and named as taken over by it.

    Returns the job and the ids it took over.

    Raises
    ------
    JobRunningError
        The kind runs one at a time and a live job of it holds the place.
    """
    now = utcnow()
    # queued first: the new id is needed in the message of the jobs it takes over, and a
    # one-at-a-time kind may only turn running once the dead holder is out of the way
    job = Job(project_id=project_id, kind=kind, params=params, status="queued", created_at=now)
    session.add(job)
    session.flush()
    others = session.scalars(select(Job).where(*_same_kind(kind, project_id), Job.id != job.id))
    taken, live = [], []
    for other in others.all():
        age = heartbeat_age(other, now)
        if not is_stale(other, now, stale_after_s):
            live.append((other.id, age, other.params.get("holder")))
            continue
        # another starter may take it over first: only a row still running is ours to mark
        marked = session.execute(
            update(Job)
            .where(Job.id == other.id, Job.status == "running")
            .values(
                status="interrupted",
                finished_at=now,
                error=f"no heartbeat for {age:.0f} s; taken over by job {job.id}",
            )
            .execution_options(synchronize_session=False)
        )
        if marked.rowcount == 1:
            taken.append(other.id)
    job.status, job.started_at, job.heartbeat_at = "running", now, now
    try:
        session.flush()
    except IntegrityError as e:
        detail = ", ".join(
            f"job {i}" + (f", {holder}" if holder else "") + f", heartbeat {age:.0f} s ago"
            for i, age, holder in live
        )
        raise JobRunningError(
            kind, f" ({detail})" if detail else "", job_id=live[0][0] if live else None
        ) from e
    return job, taken


def beat(session: Session, job_id: int) -> bool:
    """Refresh the job's heartbeat; ``False`` once it no longer runs (finished, taken over)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def record_progress(session: Session, job_id: int, **values: object) -> None:
    """Write ``done``, ``total`` or ``result`` of a job, with a fresh heartbeat."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(heartbeat_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )


def finish_job(session: Session, job_id: int, *, done: int, result: dict) -> None:
    """Mark a job done with its result."""
    now = utcnow()
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status="done", done=done, result=result, finished_at=now, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )


def fail_job(session: Session, job_id: int, *, done: int, error: str) -> None:
    """Mark a job failed with the reason."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status="failed", done=done, error=error, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class JobSummary:
    """A job as reports show it: a running job without a recent heartbeat is ``interrupted``."""

    id: int
    kind: str
    status: str
    done: int
    total: int | None
    started_at: dt.datetime | None
    heartbeat_age_s: float | None
    """Seconds since the last heartbeat, for jobs that still say they run."""
    finished_at: dt.datetime | None
    error: str | None

    def as_dict(self) -> dict:
        """JSON-ready, times as ISO 8601 text."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "done": self.done,
            "total": self.total,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "heartbeat_age_s": self.heartbeat_age_s,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
        }


def _summary(job: Job, now: dt.datetime, stale_after_s: float) -> JobSummary:
    status, error, age = job.status, job.error, None
    if job.status == "running":
        age = round(heartbeat_age(job, now), 1)
        if is_stale(job, now, stale_after_s):
            status, error = "interrupted", f"no heartbeat for {age:.0f} s"
    return JobSummary(
        id=job.id,
        kind=job.kind,
        status=status,
        done=job.done,
        total=job.total,
        started_at=_utc(job.started_at) if job.started_at else None,
        heartbeat_age_s=age,
        finished_at=_utc(job.finished_at) if job.finished_at else None,
        error=error,
    )


def recent_jobs(
    session: Session,
    project_id: int | None,
    *,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    limit: int = 10,
) -> list[JobSummary]:
    """The project's latest jobs (scheduled passes when ``project_id`` is ``None``), newest
    first, with running jobs past the stale threshold shown as ``interrupted``."""
    project = Job.project_id.is_(None) if project_id is None else Job.project_id == project_id
    rows = session.scalars(select(Job).where(project).order_by(Job.id.desc()).limit(limit))
    now = utcnow()
    return [_summary(job, now, stale_after_s) for job in rows]


def get_job(
    session: Session, job_id: int, *, stale_after_s: float = DEFAULT_STALE_AFTER_S
) -> JobSummary:
    """One job as reports show it.

    Raises
    ------
    NotFoundError
        No job has this id.
    """
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    return _summary(job, utcnow(), stale_after_s)
