"""A prelabel run SIGKILLed at random moments, again and again, loses at most its open batch and
the reruns finish with exactly one suggestion per item; each killed job is shown ``interrupted``
once its heartbeat is stale, and the rerun takes it over, says what it did and ends ``done``."""

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
from learner.training import TrainConfig
from prelabel.evaluate import evaluate_version, promote_version
from prelabel.ingest import ingest
from prelabel.train import train_model
from store.engine import transaction
from store.models import Item, Job, Suggestion
from store.snapshots import create_snapshot

ITEMS, BATCH, KILLS = 12000, 25, 10
STALE_S = 2.0
"""The stale threshold the runs beat for and the checks judge by (short, so no long wait)."""


def _counts(engine, version_id: int) -> tuple[int, int]:
    with transaction(engine) as session:
        rows = session.scalar(
            select(func.count())
            .select_from(Suggestion)
            .where(Suggestion.model_version_id == version_id)
        )
        items = session.scalar(
            select(func.count(func.distinct(Suggestion.item_id))).where(
                Suggestion.model_version_id == version_id
            )
        )
    return rows, items


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun(
    db_url, engine, make_project, tmp_path, wait_until_interrupted
) -> None:
    project_id = make_project("spatter", "crop", ["small_spatter", "large_spatter"])
    write_crop_store(tmp_path / "crops", ITEMS, seed=5, labelled_fraction=0.1)
    ingest(engine, "spatter", [tmp_path / "crops"], progress=False)
    with transaction(engine) as session:
        snapshot = create_snapshot(session, project_id).name
        assert session.scalar(select(func.count()).select_from(Item)) == ITEMS
    config = TrainConfig(arch="lenet5", epochs=1, min_epochs=1, device="cpu")
    version = train_model(
        engine, "spatter", snapshot, config, models_dir=tmp_path / "models", progress=False
    )["model_version"]
    evaluate_version(engine, version)
    promote_version(engine, version)

    command = [
        sys.executable,
        "-m",
        "loupe",
        "prelabel",
        "spatter",
        "--batch-size",
        str(BATCH),
        "--device",
        "cpu",
        "--quiet",
        "--db",
        db_url,
    ]
    env = os.environ | {"OMP_NUM_THREADS": "1", "LOUPE_JOB_STALE_AFTER_S": str(STALE_S)}
    rng = random.Random(7)
    kills = 0
    history = []
    while kills < KILLS:
        before, _ = _counts(engine, version)
        if before == ITEMS:
            break
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        # wait until this run has written something new, then kill it a random moment later
        while _counts(engine, version)[0] == before and process.poll() is None:
            assert time.monotonic() < deadline, "prelabel made no progress"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.05))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        rows, items = _counts(engine, version)
        history.append(rows)
        assert rows == items  # never two suggestions for one item and version
        assert rows % BATCH == 0 or rows == ITEMS  # committed batches are whole
    assert kills == KILLS, f"only {kills} kills landed mid-run: {history}"

    killed = wait_until_interrupted("spatter", project_id, "prelabel", STALE_S, env)

    final = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert final.returncode == 0, final.stderr
    assert _counts(engine, version) == (ITEMS, ITEMS)
    assert history == sorted(history) and history[-1] < ITEMS
    # the rerun says what it did now and what was done before, and whose place it took
    done_now = ITEMS - history[-1]
    assert f": {done_now} items in " in final.stdout, final.stdout
    assert f"{history[-1]} items were prelabelled by earlier runs" in final.stdout
    with transaction(engine) as session:
        jobs = session.scalars(select(Job).where(Job.kind == "prelabel").order_by(Job.id)).all()
    *earlier, last = jobs
    assert last.status == "done" and last.done == done_now
    took_over = final.stdout.split("took over interrupted job ", 1)[1].split(")")[0]
    assert killed in {int(i) for i in took_over.split(", ")}
    assert len(earlier) == KILLS and earlier[-1].id == killed
    for job in earlier:
        assert job.status == "interrupted"
        assert job.error.startswith("no heartbeat for ") and " s; taken over by job " in job.error
