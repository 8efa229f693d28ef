"""Audio proposals: recordings without labels get detected segments, classified once a model
exists; segments people already marked are not proposed again."""

from __future__ import annotations

import shutil

from sqlalchemy import func, select

from learner.training import TrainConfig
from prelabel.ingest import ingest
from prelabel.prelabel import run_prelabel
from prelabel.train import train_model
from store.engine import transaction
from store.models import Item, Suggestion
from store.snapshots import create_snapshot

FINCH = [str(i) for i in range(9)]


def _items(engine, origin: str) -> int:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(Item).where(Item.origin == origin))


def test_unlabelled_recording_gets_proposals_without_a_model(
    engine, make_project, shared_data, tmp_path
) -> None:
    make_project("finch", "audio", FINCH)
    shutil.copy(shared_data / "audio/finch/3.wav", tmp_path / "3.wav")  # no label file
    ingest(engine, "finch", [tmp_path], progress=False)
    first = run_prelabel(engine, "finch", progress=False)
    labelled = len((shared_data / "audio/finch/3.txt").read_text().splitlines())
    assert first["model_version"] is None
    assert abs(first["proposals"]["proposals"] - labelled) <= 0.1 * labelled
    assert _items(engine, "proposal") == first["proposals"]["proposals"]
    again = run_prelabel(engine, "finch", progress=False)
    assert again["proposals"]["recordings_scanned"] == 0  # scanned once per configuration


def test_marked_segments_are_not_proposed_again_and_proposals_are_classified(
    engine, make_project, shared_data, tmp_path
) -> None:
    project_id = make_project("finch", "audio", FINCH)
    ingest(engine, "finch", [shared_data / "audio/finch"], progress=False)
    with transaction(engine) as session:
        snapshot = create_snapshot(session, project_id).name
    config = TrainConfig(arch="cnn", epochs=1, min_epochs=1, device="cpu")
    version = train_model(
        engine, "finch", snapshot, config, models_dir=tmp_path / "m", progress=False
    )["model_version"]
    result = run_prelabel(engine, "finch", version_id=version, device="cpu", progress=False)
    proposals = result["proposals"]
    # the finch labels cover every syllable the detector finds: nearly all proposals overlap
    assert proposals["recordings_scanned"] == 12
    assert proposals["overlapping_dropped"] >= 450 and proposals["proposals"] <= 20
    with transaction(engine) as session:
        suggested = session.scalar(select(func.count()).select_from(Suggestion))
        spans = session.execute(select(Suggestion.start_s, Suggestion.end_s)).all()
    assert suggested == 466 + proposals["proposals"]
    assert all(start is not None and end > start for start, end in spans)
