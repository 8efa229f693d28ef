"""Scheduled passes: watched folders are ingested, then prelabelled; two copies never both work."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from prelabel.schedule import LockHeld, run_scheduled_pass, scheduled_lock
from store.engine import transaction
from store.models import Item, Job
from store.projects import get_project, set_watched_folders


def _watch(engine, name: str, folder) -> None:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        set_watched_folders(session, get_project(session, name), [str(folder)])


def test_pass_ingests_only_new_files(engine, make_project, shared_data, tmp_path) -> None:
    make_project("finch", "audio", [str(i) for i in range(9)])
    watched = tmp_path / "incoming"
    watched.mkdir()
    for stem in ("0", "1"):
        for suffix in (".wav", ".txt"):
            shutil.copy(shared_data / f"audio/finch/{stem}{suffix}", watched)
    _watch(engine, "finch", watched)
    first = run_scheduled_pass(engine)["projects"]["finch"]
    for suffix in (".wav", ".txt"):
        shutil.copy(shared_data / f"audio/finch/2{suffix}", watched)
    second = run_scheduled_pass(engine)["projects"]["finch"]
    third = run_scheduled_pass(engine)["projects"]["finch"]
    counts = [len((shared_data / f"audio/finch/{s}.txt").read_text().splitlines()) for s in "012"]
    assert first["ingested_items"] == counts[0] + counts[1]
    assert second["ingested_items"] == counts[2] and third["ingested_items"] == 0
    assert first["prelabel"] is None  # no model yet: nothing to prelabel with


def test_second_pass_while_one_runs_is_rejected(engine) -> None:
    with scheduled_lock(engine), pytest.raises(LockHeld, match="another scheduled pass"):
        run_scheduled_pass(engine)


def test_lock_of_a_killed_pass_expires(engine) -> None:
    with transaction(engine) as session:
        session.add(
            Job(
                kind="scheduled",
                status="running",
                params={"holder": "gone:1"},
                heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
            )
        )
    result = run_scheduled_pass(engine)
    with transaction(engine) as session:
        statuses = dict(session.execute(select(Job.id, Job.status)).all())
        stale = session.scalar(select(Job).where(Job.params["holder"].as_string() == "gone:1"))
    assert statuses[result["job_id"]] == "done"
    assert stale.status == "failed" and "lock expired" in stale.error


def test_two_processes_at_once_write_no_duplicates(
    db_url, engine, make_project, shared_data
) -> None:
    make_project("piped", "crop", ["defect", "no_defect"])
    _watch(engine, "piped", shared_data / "crops/piped")
    command = [sys.executable, "-m", "loupe", "run-scheduled", "--once", "--json", "--db", db_url]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    assert all(run.returncode == 0 for run in runs)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 384
        jobs = session.scalars(select(Job.status).where(Job.kind == "scheduled")).all()
    worked = [o for o in outputs if "projects" in o]
    assert (
        1 <= len(worked) <= 2
        and sum(o["projects"]["piped"]["ingested_items"] for o in worked) == 384
    )
    assert all(status == "done" for status in jobs) and len(jobs) == len(worked)
