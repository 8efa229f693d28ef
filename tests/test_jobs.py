"""Job liveness: a running job beats while it lives, even stuck in one long step; one that
stopped beating is shown as interrupted, and the next job of its kind takes it over."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from prelabel.jobs import JobRecorder
from store.base import utcnow
from store.engine import transaction
from store.errors import JobRunningError
from store.jobs import get_job, recent_jobs, start_job
from store.models import Job

STALE_S = 0.6
"""A short stale threshold: the recorder then beats every 0.1 s."""


def _running(engine, project_id: int | None, kind: str, beat_s_ago: float) -> int:  # type: ignore[no-untyped-def]
    """A job row left running by a process whose last heartbeat was ``beat_s_ago`` seconds ago."""
    beat = utcnow() - dt.timedelta(seconds=beat_s_ago)
    with transaction(engine) as session:
        job = Job(
            project_id=project_id,
            kind=kind,
            params={},
            status="running",
            started_at=beat,
            heartbeat_at=beat,
        )
        session.add(job)
        session.flush()
        return job.id


def test_stuck_job_keeps_its_heartbeat_fresh(engine, make_project) -> None:
    project_id = make_project("spatter", "crop", ["a", "b"])
    job = JobRecorder.start(engine, project_id, "prelabel", {}, stale_after_s=STALE_S)
    with transaction(engine) as session:
        first = session.get(Job, job.id).heartbeat_at
    time.sleep(4 * STALE_S)  # one long step: no progress at all
    with transaction(engine) as session:
        shown = get_job(session, job.id, stale_after_s=STALE_S)
        last = session.get(Job, job.id).heartbeat_at
    job.finish({})
    assert shown.status == "running" and shown.heartbeat_age_s < STALE_S
    assert last > first


def test_job_without_heartbeat_is_shown_interrupted(engine, make_project) -> None:
    project_id = make_project("spatter", "crop", ["a", "b"])
    dead = _running(engine, project_id, "prelabel", beat_s_ago=300)
    live = _running(engine, project_id, "ingest", beat_s_ago=1)
    with transaction(engine) as session:
        shown = {job.id: job for job in recent_jobs(session, project_id, stale_after_s=60)}
        stored = session.get(Job, dead).status
    assert shown[dead].status == "interrupted" and shown[dead].error == "no heartbeat for 300 s"
    assert shown[live].status == "running" and shown[live].error is None
    assert stored == "running"  # reading changes nothing


def test_rerun_takes_over_only_dead_jobs_of_its_kind_and_project(engine, make_project) -> None:
    spatter = make_project("spatter", "crop", ["a", "b"])
    other = make_project("other", "crop", ["a", "b"])
    dead = _running(engine, spatter, "prelabel", beat_s_ago=300)
    alive = _running(engine, spatter, "prelabel", beat_s_ago=1)
    other_kind = _running(engine, spatter, "ingest", beat_s_ago=300)
    other_project = _running(engine, other, "prelabel", beat_s_ago=300)
    with transaction(engine) as session:
        job, taken = start_job(session, kind="prelabel", project_id=spatter, params={})
    with transaction(engine) as session:
        status = {j.id: (j.status, j.error) for j in session.query(Job)}
    assert taken == [dead]
    assert status[dead] == ("interrupted", f"no heartbeat for 300 s; taken over by job {job.id}")
    assert status[job.id] == ("running", None)
    for untouched in (alive, other_kind, other_project):
        assert status[untouched] == ("running", None)


def test_second_live_scheduled_job_is_rejected(engine) -> None:
    holder = _running(engine, None, "scheduled", beat_s_ago=1)
    refused = pytest.raises(JobRunningError, match=f"job {holder}, heartbeat 1 s ago")
    with refused as raised, transaction(engine) as session:
        start_job(session, kind="scheduled", project_id=None, params={})
    with transaction(engine) as session:
        assert session.query(Job).count() == 1  # the refused job left no row
    assert raised.value.job_id == holder


def test_taken_over_job_stops_beating(engine, make_project) -> None:
    project_id = make_project("spatter", "crop", ["a", "b"])
    slow = JobRecorder.start(engine, project_id, "prelabel", {}, stale_after_s=STALE_S)
    # it froze (a suspended machine) long enough to be taken over, then came back
    with transaction(engine) as session:
        session.get(Job, slow.id).heartbeat_at = utcnow() - dt.timedelta(seconds=10)
    rerun = JobRecorder.start(engine, project_id, "prelabel", {}, stale_after_s=STALE_S)
    time.sleep(3 * STALE_S)
    rerun.finish({})
    assert slow._beater is not None and not slow._beater.is_alive()
    with transaction(engine) as session:
        assert get_job(session, slow.id).status == "interrupted"
    assert rerun.taken_over == [slow.id]
