"""``loupe evaluate`` and ``loupe promote``: test-split metrics, temperature scaling, the gate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select, update

from learner import calibration, metrics, plots
from learner.checkpoint import load_model
from learner.training import predict_logits
from prelabel.train import snapshot_features
from store.engine import transaction
from store.errors import NotFoundError, ValidationError
from store.models import ModelVersion, Project
from store.snapshots import snapshot_entries


def get_version(session, version_id: int) -> ModelVersion:  # type: ignore[no-untyped-def]
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise NotFoundError(f"no model version {version_id}")
    return version


def _split_logits(engine: Engine, version: ModelVersion, project: Project, splits: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """Logits and label indices of the version's snapshot entries in ``splits``."""
    with transaction(engine) as session:
        entries = [e for e in snapshot_entries(session, version.snapshot_id) if e.split in splits]
    model, meta = load_model(Path(version.checkpoint_uri), version.checkpoint_sha256)
    features, kept = snapshot_features(engine, project, entries)
    index = {name: i for i, name in enumerate(meta["classes"])}
    y = np.array([index[e.label] for e in kept], dtype=np.int64)
    logits = predict_logits(model, features.x) if len(kept) else np.zeros((0, len(index)))
    return logits, y, kept, meta["classes"]


def evaluate_version(engine: Engine, version_id: int, *, reports_dir: Path | None = None) -> dict:
    """Evaluate on the snapshot's test split; fit and store the temperature on its val split.

    Returns the report (also written as ``report.json`` beside the PNG plots).

    Raises
    ------
    ValidationError
        The snapshot has no test items.
    """
    with transaction(engine) as session:
        version = get_version(session, version_id)
        project = session.get(Project, version.project_id)
    logits, y, kept, classes = _split_logits(engine, version, project, ("val", "test"))
    splits = np.array([e.split for e in kept])
    val, test = splits == "val", splits == "test"
    if test.sum() == 0:
        raise ValidationError(
            f"model version {version_id}: its snapshot has no readable test items"
        )
    temperature = calibration.fit_temperature(logits[val], y[val]) if val.any() else 1.0
    raw = calibration.softmax(logits[test])
    scaled = calibration.softmax(logits[test], temperature)
    report = metrics.classification_report(y[test], scaled, classes)
    report |= {
        "model_version": version_id,
        "temperature": temperature,
        "ece": metrics.expected_calibration_error(y[test], raw),
        "ece_calibrated": metrics.expected_calibration_error(y[test], scaled),
        "test_items": int(test.sum()),
        "val_items": int(val.sum()),
    }
    curves = metrics.precision_recall_curves(y[test], scaled, classes)
    folder = (reports_dir or Path(version.checkpoint_uri).parent) / f"version-{version_id}"
    folder.mkdir(parents=True, exist_ok=True)
    plots.plot_confusion(folder / "confusion_matrix.png", report["confusion_matrix"], classes)
    plots.plot_reliability(
        folder / "reliability.png",
        metrics.reliability_curve(y[test], raw),
        metrics.reliability_curve(y[test], scaled),
        report["ece"],
        report["ece_calibrated"],
    )
    plots.plot_precision_recall(folder / "precision_recall.png", curves)
    report["average_precision"] = {k: v["average_precision"] for k, v in curves.items()}
    report["report_dir"] = str(folder)
    (folder / "report.json").write_text(json.dumps(report | {"pr_curves": curves}, indent=2))
    with transaction(engine) as session:
        stored = get_version(session, version_id)
        session.execute(
            update(ModelVersion)
            .where(ModelVersion.id == version_id)
            .values(temperature=temperature, metrics=dict(stored.metrics) | {"evaluation": report})
        )
    return report


def macro_f1_on(
    engine: Engine, version: ModelVersion, project: Project, entries_of: ModelVersion
) -> float:
    """Macro-F1 of ``version`` on the test items of ``entries_of``'s snapshot."""
    with transaction(engine) as session:
        entries = [
            e for e in snapshot_entries(session, entries_of.snapshot_id) if e.split == "test"
        ]
    model, meta = load_model(Path(version.checkpoint_uri), version.checkpoint_sha256)
    features, kept = snapshot_features(engine, project, entries)
    index = {name: i for i, name in enumerate(meta["classes"])}
    y = np.array([index[e.label] for e in kept], dtype=np.int64)
    probabilities = calibration.softmax(
        predict_logits(model, features.x), version.temperature or 1.0
    )
    return metrics.classification_report(y, probabilities, meta["classes"])["macro_f1"]


PROMOTED, BELOW_THRESHOLD, WORSE_THAN_ACTIVE = 0, 3, 4


def promote_version(
    engine: Engine, version_id: int, *, min_macro_f1: float = 0.0, vs_active: bool = True
) -> dict:
    """Make a version active if it passes the gate; the previous active one is retired.

    Returns ``decision`` (promoted / below_threshold / worse_than_active), the figures, and
    ``exit_code`` (0, 3 or 4).

    Raises
    ------
    ValidationError
        The version has not been evaluated yet.
    """
    with transaction(engine) as session:
        version = get_version(session, version_id)
        project = session.get(Project, version.project_id)
        evaluation = version.metrics.get("evaluation")
        if evaluation is None:
            raise ValidationError(
                f"model version {version_id} is not evaluated: run `loupe evaluate {version_id}`"
            )
        active = session.scalar(
            select(ModelVersion).where(
                ModelVersion.project_id == project.id, ModelVersion.status == "active"
            )
        )
    result: dict = {
        "model_version": version_id,
        "macro_f1": evaluation["macro_f1"],
        "min_macro_f1": min_macro_f1,
        "active_version": active.id if active else None,
    }
    if evaluation["macro_f1"] < min_macro_f1:
        return result | {"decision": "below_threshold", "exit_code": BELOW_THRESHOLD}
    if vs_active and active is not None and active.id != version_id:
        candidate = macro_f1_on(engine, version, project, version)
        incumbent = macro_f1_on(engine, active, project, version)
        result |= {
            "candidate_macro_f1_same_items": candidate,
            "active_macro_f1_same_items": incumbent,
        }
        if candidate < incumbent:
            return result | {"decision": "worse_than_active", "exit_code": WORSE_THAN_ACTIVE}
    with transaction(engine) as session:
        session.execute(
            update(ModelVersion)
            .where(ModelVersion.project_id == project.id, ModelVersion.status == "active")
            .values(status="retired")
        )
        session.flush()
        session.execute(
            update(ModelVersion).where(ModelVersion.id == version_id).values(status="active")
        )
    return result | {"decision": "promoted", "exit_code": PROMOTED}
