"""Per modality: a small generated project is snapshotted, trained, evaluated, calibrated,
promoted, and its checkpoint reloads to the same probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select

from learner import calibration
from learner.checkpoint import load_model
from learner.featurise import featurise
from learner.synthetic import write_crop_store, write_recordings, write_spectra
from learner.training import TrainConfig, predict_logits
from prelabel.evaluate import BELOW_THRESHOLD, PROMOTED, evaluate_version, promote_version
from prelabel.ingest import ingest
from prelabel.train import refs_of, train_model
from store.engine import transaction
from store.models import ModelVersion
from store.snapshots import create_snapshot, snapshot_entries

CASES = {
    "audio": (
        ["single_burst", "multiple_burst", "harmonic"],
        "cnn",
        lambda d: write_recordings(d, 8, seed=3, duration_s=6.0),
    ),
    "spectrum": (["stable", "weathered"], "figure2", lambda d: write_spectra(d, 120, seed=3)),
    "crop": (
        ["small_spatter", "large_spatter"],
        "lenet5",
        lambda d: write_crop_store(d, 600, seed=3),
    ),
}


def _train(engine: Engine, make_project, tmp_path, modality: str) -> tuple[int, dict]:
    classes, arch, generate = CASES[modality]
    generate(tmp_path / "data")
    project_id = make_project(modality, modality, classes)
    ingest(engine, modality, [tmp_path / "data"], progress=False)
    with transaction(engine) as session:
        snapshot = create_snapshot(session, project_id)
    config = TrainConfig(arch=arch, epochs=4, batch_size=32, patience=10, seed=1, device="cpu")
    result = train_model(
        engine, modality, snapshot.name, config, models_dir=tmp_path / "models", progress=False
    )
    return project_id, result


@pytest.mark.parametrize("modality", sorted(CASES))
def test_snapshot_train_evaluate_reload(engine, make_project, tmp_path, modality) -> None:
    _, result = _train(engine, make_project, tmp_path, modality)
    version_id = result["model_version"]
    report = evaluate_version(engine, version_id)
    assert 0.0 <= report["macro_f1"] <= 1.0 and report["test_items"] > 0
    assert report["ece"] >= 0 and report["ece_calibrated"] >= 0 and report["temperature"] > 0
    assert {"confusion_matrix.png", "reliability.png", "precision_recall.png", "report.json"} <= {
        p.name for p in (tmp_path / "models").rglob("*")
    }
    with transaction(engine) as session:
        version = session.get(ModelVersion, version_id)
        entries = snapshot_entries(session, version.snapshot_id)
        assert version.temperature == pytest.approx(report["temperature"])
        assert (
            version.environment["device"] == "cpu" and version.checkpoint_sha256 == result["sha256"]
        )
    # the reloaded checkpoint reproduces the evaluation's figures, load after load
    test = [e for e in entries if e.split == "test"]
    features = featurise(modality, refs_of(test))
    labels = np.array([CASES[modality][0].index(test[i].label) for i in features.kept])
    runs = []
    for _ in range(2):
        model, meta = load_model(Path(version.checkpoint_uri), version.checkpoint_sha256)
        logits = predict_logits(model, features.x, device="cpu")
        runs.append(calibration.softmax(logits, version.temperature))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert meta["classes"] == CASES[modality][0]
    assert (runs[0].argmax(1) == labels).mean() == pytest.approx(report["accuracy"])


def test_training_is_seeded(engine, make_project, tmp_path) -> None:
    _, first = _train(engine, make_project, tmp_path / "a", "spectrum")
    with transaction(engine) as session:
        snapshot_name = session.scalar(select(ModelVersion.snapshot_id))
    config = TrainConfig(arch="figure2", epochs=4, batch_size=32, patience=10, seed=1, device="cpu")
    second = train_model(
        engine, "spectrum", str(snapshot_name), config, models_dir=tmp_path / "b", progress=False
    )
    assert second["val_loss"] == pytest.approx(first["val_loss"], rel=1e-6)


def test_gate_refuses_below_threshold_and_promotes_otherwise(
    engine, make_project, tmp_path
) -> None:
    _, result = _train(engine, make_project, tmp_path, "crop")
    version_id = result["model_version"]
    evaluate_version(engine, version_id)
    refused = promote_version(engine, version_id, min_macro_f1=1.01)
    assert (refused["decision"], refused["exit_code"]) == ("below_threshold", BELOW_THRESHOLD)
    accepted = promote_version(engine, version_id, min_macro_f1=0.0)
    assert (accepted["decision"], accepted["exit_code"]) == ("promoted", PROMOTED)
    with transaction(engine) as session:
        assert session.get(ModelVersion, version_id).status == "active"
