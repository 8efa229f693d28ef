"""Scheduled passes: watched folders are ingested, then prelabelled; two copies never both work."""

from __future__ import annotations

import datetime as dt
import json
import re
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
    assert stale.status == "interrupted"
    assert re.fullmatch(
        rf"no heartbeat for 30\d s; taken over by job {result['job_id']}", stale.error
    )


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


# --- the loop on a schedule -------------------------------------------------------------------


@pytest.fixture
def annotated(engine, make_project, monkeypatch):  # type: ignore[no-untyped-def]
    """A project with items, a fake loop that only records its call (and its job row, as the
    real one does), and ``act(n, user=..., action=...)`` to write ``n`` annotations."""
    from sqlalchemy import insert

    import prelabel.schedule as schedule
    from prelabel.jobs import JobRecorder
    from store import catalog
    from store.catalog import ItemRow
    from store.models import Annotation
    from store.projects import ensure_user

    project_id = make_project("crops", "crop", ["a", "b"])
    with transaction(engine) as session:
        source = catalog.add_source(session, project_id, "/nowhere/c.h5", "hdf5", "c" * 64, 1)
        locators = [f"d[{i}]" for i in range(50)]
        catalog.insert_items(
            session, source, [ItemRow(loc, "d", i) for i, loc in enumerate(locators)]
        )
        items = list(catalog.item_ids(session, source.id, locators).values())
    calls: list[dict] = []

    def fake_loop(engine, name, options, *, models_dir, progress, stale_after_s):  # type: ignore[no-untyped-def]
        job = JobRecorder.start(engine, project_id, "loop", {}, stale_after_s=stale_after_s)
        calls.append({"name": name, "options": options, "models_dir": models_dir})
        summary = {"job_id": job.id, "model_version": 7, "decision": "promoted", "suggestions": 0}
        job.finish(summary)
        return summary | {"steps": {}, "pseudo": None}

    monkeypatch.setattr(schedule, "run_loop", fake_loop)
    used = iter(items)

    def act(n: int, *, user: str = "ann", action: str = "accept") -> list[int]:
        ids = []
        with transaction(engine) as session:
            user_id = ensure_user(session, user).id
            for _ in range(n):
                ids.append(
                    session.execute(
                        insert(Annotation)
                        .values(item_id=next(used), user_id=user_id, action=action, label="a")
                        .returning(Annotation.id)
                    ).scalar_one()
                )
        return ids

    return calls, act


def test_loop_runs_once_enough_human_annotations_arrived(engine, annotated, tmp_path) -> None:
    from store.settings import Settings

    calls, act = annotated
    settings = Settings.model_construct(loop_after_annotations=5, models_dir=tmp_path / "m")
    act(20, user="import", action="import")  # imported labels never count
    act(4)
    below = run_scheduled_pass(engine, settings=settings)["projects"]["crops"]["loop"]
    act(1, action="reject")
    at = run_scheduled_pass(engine, settings=settings)["projects"]["crops"]["loop"]
    after = run_scheduled_pass(engine, settings=settings)["projects"]["crops"]["loop"]
    assert below == {"ran": False, "new_annotations": 4, "needed": 5}
    assert at["ran"] and at["new_annotations"] == 5 and at["model_version"] == 7
    assert after == {"ran": False, "new_annotations": 0, "needed": 5}  # counted from its start
    assert len(calls) == 1 and calls[0]["name"] == "crops"
    assert calls[0]["models_dir"] == tmp_path / "m"


def test_undone_annotations_do_not_count_towards_the_loop(engine, annotated) -> None:
    from sqlalchemy import insert

    from store.models import Annotation
    from store.settings import Settings

    calls, act = annotated
    settings = Settings.model_construct(loop_after_annotations=3)
    taken_back = act(3)
    with transaction(engine) as session:
        item_id, user_id = session.execute(
            select(Annotation.item_id, Annotation.user_id).where(Annotation.id == taken_back[0])
        ).one()
        session.execute(
            insert(Annotation).values(
                item_id=item_id, user_id=user_id, action="undo", undoes_id=taken_back[0]
            )
        )
    loop = run_scheduled_pass(engine, settings=settings)["projects"]["crops"]["loop"]
    assert loop == {"ran": False, "new_annotations": 2, "needed": 3} and not calls


def test_project_setting_overrides_the_global_trigger(engine, annotated) -> None:
    from prelabel.loop import configure_loop
    from store.settings import Settings

    calls, act = annotated
    act(3)
    with transaction(engine) as session:
        configure_loop(session, get_project(session, "crops"), {"after_annotations": 0})
    never = run_scheduled_pass(engine, settings=Settings.model_construct(loop_after_annotations=1))
    with transaction(engine) as session:
        configure_loop(session, get_project(session, "crops"), {"after_annotations": 2})
    soon = run_scheduled_pass(engine, settings=Settings.model_construct())  # global default: 200
    assert (
        never["projects"]["crops"]["loop"]["ran"] is False
        and soon["projects"]["crops"]["loop"]["ran"]
    )
    assert len(calls) == 1
