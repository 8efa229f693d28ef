"""An ingest SIGKILLed at random moments is seen to die: its job row shows ``interrupted`` once
its heartbeat is stale, and the rerun takes it over, completes the items and ends ``done``."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from learner.synthetic import write_crop_store
from store.engine import transaction
from store.models import Item, Job

ITEMS, BATCH, KILLS = 20000, 500, 3
STALE_S = 2.0
"""The stale threshold the runs beat for and the checks judge by (short, so no long wait)."""


def _items(engine) -> int:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(Item)) or 0


@pytest.mark.slow
def test_killed_ingest_is_interrupted_then_taken_over(
    db_url, engine, make_project, tmp_path, wait_until_interrupted
) -> None:
    project_id = make_project("spatter", "crop", ["small_spatter", "large_spatter"])
    write_crop_store(tmp_path / "crops", ITEMS, seed=5, labelled_fraction=0.1)
    command = [sys.executable, "-m", "loupe", "ingest", "spatter", str(tmp_path / "crops")]
    command += ["--quiet", "--db", db_url]
    env = os.environ | {"LOUPE_BATCH_SIZE": str(BATCH), "LOUPE_JOB_STALE_AFTER_S": str(STALE_S)}
    rng = random.Random(3)
    kills = 0
    while kills < KILLS:
        before = _items(engine)
        assert before < ITEMS, "the store is too small to be killed mid-run"
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while _items(engine) == before and process.poll() is None:
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.1))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()

    killed = wait_until_interrupted("spatter", project_id, "ingest", STALE_S, env)

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr  # a resumed ingest succeeded
    assert "nothing could be ingested" not in rerun.stdout + rerun.stderr
    with transaction(engine) as session:
        jobs = session.scalars(select(Job).where(Job.kind == "ingest").order_by(Job.id)).all()
        assert session.scalar(select(func.count(func.distinct(Item.locator)))) == ITEMS
    assert _items(engine) == ITEMS
    *earlier, final = jobs
    assert final.status == "done" and final.error is None
    assert len(earlier) == KILLS and earlier[-1].id == killed
    for job in earlier:
        assert job.status == "interrupted"
        assert job.error.startswith("no heartbeat for ") and " s; taken over by job " in job.error
