"""Prelabel: calibrated suggestions for every item, once; bad media recorded and skipped."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from sqlalchemy import func, select

from learner.embeddings import decode_embeddings
from learner.training import TrainConfig
from prelabel.evaluate import evaluate_version, promote_version
from prelabel.ingest import ingest
from prelabel.prelabel import run_prelabel
from prelabel.ranking import DIVERSE_BLOCK, set_strategy
from prelabel.train import train_model
from store.annotations import undo_last
from store.engine import transaction
from store.errors import NotFoundError
from store.models import IngestError, Item, Job, Project, Suggestion
from store.projects import IMPORT_USER, ensure_user, get_project
from store.snapshots import create_snapshot


@pytest.fixture
def trained(engine, make_project, shared_data, tmp_path) -> int:
    """The PIPED crops, plus one HDF5 entry of random bytes, with an active lenet5 version."""
    project_id = make_project("piped", "crop", ["defect", "no_defect"])
    with h5py.File(tmp_path / "extra.h5", "w") as store:
        data = store.create_dataset("bad", (1,), dtype=h5py.vlen_dtype(np.uint8))
        data[0] = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8)
    ingest(engine, "piped", [shared_data / "crops/piped", tmp_path / "extra.h5"], progress=False)
    with transaction(engine) as session:
        snapshot = create_snapshot(session, project_id)
    config = TrainConfig(arch="lenet5", epochs=2, min_epochs=1, seed=0, device="cpu")
    version = train_model(
        engine, "piped", snapshot.name, config, models_dir=tmp_path / "m", progress=False
    )["model_version"]
    evaluate_version(engine, version)
    promote_version(engine, version)
    return version


def test_every_item_gets_one_calibrated_suggestion(engine, trained) -> None:
    result = run_prelabel(engine, "piped", batch_size=100, device="cpu", progress=False)
    assert (result["suggestions"], result["failures"]) == (384, 1)
    with transaction(engine) as session:
        rows = session.execute(select(Suggestion)).scalars().all()
        [error] = session.scalars(select(IngestError)).all()
        job = session.scalar(select(Job).where(Job.kind == "prelabel"))
    assert len({r.item_id for r in rows}) == 384
    for row in rows[:20]:
        assert sum(row.probabilities) == pytest.approx(1.0, abs=1e-5)
        assert row.confidence == pytest.approx(max(row.probabilities), abs=1e-6)
        assert row.margin == pytest.approx(
            abs(row.probabilities[0] - row.probabilities[1]), abs=1e-5
        )
        assert row.label == ["defect", "no_defect"][int(np.argmax(row.probabilities))]
    assert error.member == "bad[0]" and "neither a JPEG nor a PNG" in error.reason
    assert error.item_id is not None and job.status == "done" and job.done == 385


def test_rerun_writes_nothing_and_skips_bad_media(engine, trained) -> None:
    run_prelabel(engine, "piped", batch_size=100, device="cpu", progress=False)
    again = run_prelabel(engine, "piped", batch_size=100, device="cpu", progress=False)
    assert (again["items"], again["suggestions"], again["failures"]) == (0, 0, 0)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(IngestError)) == 1


def test_limit_then_rest(engine, trained) -> None:
    first = run_prelabel(engine, "piped", batch_size=64, limit=150, device="cpu", progress=False)
    rest = run_prelabel(engine, "piped", batch_size=64, device="cpu", progress=False)
    assert first["items"] == 150 and first["items"] + rest["items"] == 385


def test_a_model_version_of_another_project_is_rejected(engine, make_project) -> None:
    make_project("empty", "crop", ["a", "b"])
    with pytest.raises(NotFoundError, match="no model version 999"):
        run_prelabel(engine, "empty", version_id=999, progress=False)


def test_without_a_model_prelabel_ranks_a_cold_start_instead(
    engine, make_project, shared_data
) -> None:
    project_id = make_project("piped", "crop", ["defect", "no_defect"])
    ingest(engine, "piped", [shared_data / "crops/piped"], progress=False)
    with transaction(engine) as session:  # the PIPED crops come labelled: take that back
        project = session.get(Project, project_id)
        undo_last(session, project, ensure_user(session, IMPORT_USER))
    result = run_prelabel(engine, "piped", progress=False)
    assert result["model_version"] is None and result["suggestions"] == 0
    cold = result["cold_start"]
    assert (cold["pool"], cold["ranked"], cold["failures"]) == (384, 20, 0)
    with transaction(engine) as session:
        ranks = session.scalars(select(Item.cold_rank).where(Item.cold_rank.is_not(None))).all()
    assert sorted(ranks) == list(range(20))


def stored(engine) -> list[Suggestion]:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return list(session.scalars(select(Suggestion).order_by(Suggestion.item_id)))


def test_suggestions_carry_bald_an_embedding_and_the_entropy_priority(engine, trained) -> None:
    result = run_prelabel(engine, "piped", batch_size=100, device="cpu", progress=False)
    assert result["strategy"] == "entropy"
    rows = stored(engine)
    bald = np.array([r.bald for r in rows])
    assert np.all(np.isfinite(bald)) and np.all(bald >= 0) and bald.max() > 0
    embeddings = decode_embeddings([r.embedding for r in rows])
    assert embeddings.shape == (384, 84)  # lenet5's penultimate layer
    assert np.all(np.isfinite(embeddings)) and embeddings.std() > 0
    assert [r.priority for r in rows] == pytest.approx([-r.entropy for r in rows])


@pytest.mark.parametrize("strategy", ["least-confidence", "margin", "bald", "random"])
def test_prelabel_writes_the_priority_of_the_projects_strategy(
    engine, trained, strategy: str
) -> None:
    set_strategy(engine, "piped", strategy)
    run_prelabel(engine, "piped", batch_size=100, limit=120, device="cpu", progress=False)
    rows = stored(engine)
    with transaction(engine) as session:
        keys = dict(session.execute(select(Item.id, Item.random_key)).all())
    expected = {
        "least-confidence": [r.confidence for r in rows],
        "margin": [r.margin for r in rows],
        "bald": [-r.bald for r in rows],
        "random": [keys[r.item_id] for r in rows],
    }[strategy]
    assert len(rows) == 120 and [r.priority for r in rows] == pytest.approx(expected)


def test_prelabel_under_diverse_puts_a_spread_out_block_first(engine, trained) -> None:
    with transaction(engine) as session:  # the crops came labelled: open them again
        project = get_project(session, "piped")
        undo_last(session, project, ensure_user(session, IMPORT_USER))
    set_strategy(engine, "piped", "diverse")
    result = run_prelabel(engine, "piped", batch_size=100, device="cpu", progress=False)
    assert result["diverse_block"] == DIVERSE_BLOCK
    rows = stored(engine)
    block = [r for r in rows if r.priority < -np.log(2) - 1]
    assert len(block) == DIVERSE_BLOCK
    rest = [r for r in rows if r.priority >= -np.log(2) - 1]
    assert [r.priority for r in rest] == pytest.approx([-r.entropy for r in rest])


def test_suggestions_export_tables(engine, trained, tmp_path) -> None:
    import json

    import pandas as pd

    from prelabel.suggestions_export import export_suggestions

    run_prelabel(engine, "piped", batch_size=100, device="cpu", progress=False)
    result = export_suggestions(engine, "piped", "csv", tmp_path / "csv")
    table = pd.read_csv(tmp_path / "csv" / "suggestions.csv")
    assert result["suggestions"] == len(table) == 384
    assert (table[["p_defect", "p_no_defect"]].sum(axis=1) - 1).abs().max() < 1e-5
    export_suggestions(engine, "piped", "jsonl", tmp_path / "jsonl")
    lines = (tmp_path / "jsonl" / "suggestions.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == 384 and first["classes"] == ["defect", "no_defect"]


def test_audio_suggestions_as_audacity_tracks(engine, make_project, shared_data, tmp_path) -> None:
    from learner.formats.audio import read_label_file
    from prelabel.suggestions_export import export_suggestions

    project_id = make_project("spinetail", "audio", ["CRER", "SP"])
    ingest(engine, "spinetail", [shared_data / "audio/spinetail"], progress=False)
    with transaction(engine) as session:
        snapshot = create_snapshot(session, project_id)
    config = TrainConfig(arch="cnn", epochs=1, min_epochs=1, device="cpu")
    version = train_model(
        engine, "spinetail", snapshot.name, config, models_dir=tmp_path / "m", progress=False
    )["model_version"]
    run_prelabel(engine, "spinetail", version_id=version, device="cpu", progress=False)
    result = export_suggestions(
        engine, "spinetail", "audacity", tmp_path / "out", version_id=version
    )
    spans = read_label_file(tmp_path / "out" / "spinetail.txt")
    assert result["files"] == ["spinetail.txt"] and len(spans) == 18
    label, probability = spans[0].label.split()
    assert label in ("CRER", "SP") and 0.5 <= float(probability) <= 1.0
    assert spans[0].start_s == pytest.approx(0.101385)
