"""``loupe train``: features of a snapshot, a seeded training run, a registered model version."""

from __future__ import annotations

import platform
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from learner.checkpoint import save_checkpoint
from learner.featurise import Features, ItemRef, featurise
from learner.training import TrainConfig, fit, seed_everything
from store import catalog
from store.base import utcnow
from store.engine import transaction
from store.errors import ValidationError
from store.models import ModelVersion, Project
from store.projects import get_project
from store.snapshot_refs import resolve_snapshot, snapshot_ref
from store.snapshots import MIN_CLASS_ITEMS_TO_SPLIT, EntryRecord, snapshot_entries


def refs_of(entries: list[EntryRecord]) -> list[ItemRef]:
    return [
        ItemRef(e.source_uri, e.source_kind, e.member, e.position, e.start_s, e.end_s)
        for e in entries
    ]


def snapshot_features(
    engine: Engine, project: Project, entries: list[EntryRecord]
) -> tuple[Features, list[EntryRecord]]:
    """Features of snapshot entries; entries that cannot be read are recorded and left out."""
    features = featurise(project.modality, refs_of(entries), project.settings)
    if features.failures:
        with transaction(engine) as session:
            for index, reason in features.failures:
                entry = entries[index]
                catalog.record_ingest_error(
                    session,
                    project.id,
                    entry.source_uri,
                    reason,
                    member=entry.locator,
                    item_id=entry.item_id,
                )
    return features, [entries[i] for i in features.kept]


def crop_augmenter(project: Project):  # type: ignore[no-untyped-def]
    if project.modality != "crop":
        return None
    from learner.augment import augment_batch

    return augment_batch


def train_model(
    engine: Engine,
    project_name: str,
    ref: str,
    config: TrainConfig,
    *,
    models_dir: Path,
    progress: bool = True,
    mlflow: bool = False,
) -> dict:
    """Train on a snapshot and register a candidate model version.

    Returns ids, the best epoch, validation figures and throughput.

    Raises
    ------
    ValidationError
        The snapshot has no readable train or val items (too small to split), or the
        architecture does not exist.
    """
    import torch

    from learner.networks import available, build, default_arch, pick_device

    if mlflow:
        _require_mlflow()

    with transaction(engine) as session:
        project = get_project(session, project_name)
        snapshot = resolve_snapshot(session, ref, project.name)
        entries = snapshot_entries(session, snapshot.id)
        snapshot_id, snapshot_name = snapshot.id, snapshot.name
    arch = config.arch or default_arch(project.modality)
    if arch not in available(project.modality):
        raise ValidationError(
            f"unknown {project.modality} architecture {arch!r}: "
            f"choose one of {', '.join(available(project.modality))}"
        )
    config = replace(config, arch=arch)
    features, entries = snapshot_features(engine, project, entries)
    classes = list(project.classes)
    index = {name: i for i, name in enumerate(classes)}
    y = np.array([index[e.label] for e in entries], dtype=np.int64)
    splits = np.array([e.split for e in entries])
    train, val = splits == "train", splits == "val"
    _require_split(snapshot_ref(project.name, snapshot_name), int(train.sum()), int(val.sum()))
    input_shape = tuple(int(d) for d in features.x.shape[1:])
    seed_everything(config.seed)  # the initial weights come from the seed too
    model = build(project.modality, arch, n_classes=len(classes), input_shape=(1, *input_shape))
    result = fit(
        model,
        features.x[train],
        y[train],
        features.x[val],
        y[val],
        config,
        n_classes=len(classes),
        augment=crop_augmenter(project),
        progress=progress,
    )
    device = str(pick_device(config.device))
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    checkpoint = models_dir.resolve() / project.name / f"{snapshot_name}-{arch}-{stamp}.pt"
    meta = {
        "modality": project.modality,
        "arch": arch,
        "classes": classes,
        "input_shape": [1, *input_shape],
        "settings": project.settings,
    }
    sha256 = save_checkpoint(checkpoint, result.state_dict, meta)
    best = result.history[result.best_epoch] if result.best_epoch >= 0 else result.history[-1]
    metrics = {
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "val_loss": best["val_loss"],
        "val_accuracy": best["val_accuracy"],
        "history": result.history,
        "train_items": int(train.sum()),
        "val_items": int(val.sum()),
        "samples_per_s": result.samples_seen / max(result.seconds, 1e-9),
        "unreadable_items": len(features.failures),
    }
    environment = {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "device": device,
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
    }
    with transaction(engine) as session:
        version = ModelVersion(
            project_id=project.id,
            arch=arch,
            checkpoint_uri=str(checkpoint),
            checkpoint_sha256=sha256,
            classes=classes,
            snapshot_id=snapshot_id,
            config=config.as_dict()
            | {"input_shape": meta["input_shape"], "settings": project.settings},
            metrics=metrics,
            environment=environment,
            status="candidate",
        )
        session.add(version)
        session.flush()
        version_id = version.id
    if mlflow:
        _track(version_id, config, metrics)
    return {
        "model_version": version_id,
        "arch": arch,
        "project": project.name,
        "snapshot": snapshot_id,
        "snapshot_ref": snapshot_ref(project.name, snapshot_name),
        "checkpoint": str(checkpoint),
        "sha256": sha256,
        "best_epoch": result.best_epoch,
        "val_loss": best["val_loss"],
        "val_accuracy": best["val_accuracy"],
        "samples_per_s": metrics["samples_per_s"],
        "device": device,
    }


def _require_split(ref: str, n_train: int, n_val: int) -> None:
    """Refuse a snapshot without train or val items: there would be nothing to fit, or no
    epoch to choose (the best epoch would stay -1 and the val loss infinite)."""
    if n_train and n_val:
        return
    raise ValidationError(
        f"snapshot {ref} is too small to train on: {n_train} readable train and {n_val} val "
        f"items. The split gives a class one item in each of train, val and test once it has "
        f"at least {MIN_CLASS_ITEMS_TO_SPLIT} labelled items: label at least "
        f"{MIN_CLASS_ITEMS_TO_SPLIT} items of a class, then take a new snapshot"
    )


def _require_mlflow() -> None:
    """Fail before training, not after, when tracking is asked for and cannot happen."""
    try:
        import mlflow  # noqa: F401
    except ImportError as e:
        raise ValidationError(
            "--mlflow was asked for but mlflow is not installed (pip install mlflow)"
        ) from e


def _track(version_id: int, config: TrainConfig, metrics: dict) -> None:
    """Log the run to MLflow (its tracking URI comes from MLflow's own environment)."""
    import mlflow

    with mlflow.start_run(run_name=f"model-version-{version_id}"):
        mlflow.log_params(config.as_dict())
        for record in metrics["history"]:
            mlflow.log_metrics(
                {k: v for k, v in record.items() if k != "epoch"}, step=record["epoch"]
            )
