"""Cross-validated accuracy and calibration of Loupe's seed models on the real sample data.

For each task, 5 stratified folds: the model trains on 4/5 (of which 15% is held out for early
stopping and for fitting the temperature) and is scored on the fifth. Prints per task the mean
and spread of macro-F1 and accuracy, and ECE (15 bins) before and after temperature scaling.

    .venv/bin/python benchmarks/cross_validate.py [--data ../shared/data] [--epochs 80]
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from learner import calibration, metrics
from learner.featurise import ItemRef, featurise
from learner.formats import audio, crops, spectra
from learner.training import TrainConfig, fit, predict_logits

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass
class Task:
    name: str
    modality: str
    arch: str
    x: NDArray[np.float32]
    y: NDArray[np.int64]
    classes: list[str]


def rampp_tasks(data: Path) -> list[Task]:
    """RaMPP matrices: polymer type (11 classes, the column name's first word) and
    stable (References) vs weathered (incubated)."""
    raw = data / "spectra/rampp/raw"
    refs, polymer, state = [], [], []
    for path in sorted(raw.glob("*.CSV")):
        for column in spectra.read_spectrum_table(path).columns:
            refs.append(ItemRef(str(path), "spectrum_matrix", column.name, column.position))
            polymer.append(column.name.split()[0])
            state.append("stable" if path.name == "References.CSV" else "weathered")
    features = featurise("spectrum", refs)
    keep = features.kept
    tasks = []
    for name, labels in (("RaMPP polymer type", polymer), ("RaMPP stable/weathered", state)):
        classes = sorted(set(labels))
        y = np.array([classes.index(labels[i]) for i in keep], dtype=np.int64)
        tasks.append(Task(name, "spectrum", "figure2", features.x, y, classes))
    return tasks


def piped_task(data: Path) -> Task:
    rows, _ = crops.read_crop_index(data / "crops/piped/images.csv")
    refs = [ItemRef(str(r.hdf5_file), "hdf5", r.dataset_name, r.index) for r in rows]
    features = featurise("crop", refs)
    classes = sorted({r.label for r in rows})
    y = np.array([classes.index(rows[i].label) for i in features.kept], dtype=np.int64)
    return Task("PIPED defect/no_defect", "crop", "lenet5", features.x, y, classes)


def finch_task(data: Path) -> Task:
    refs, labels = [], []
    for wav in sorted((data / "audio/finch").glob("*.wav")):
        for span in audio.read_label_file(wav.with_suffix(".txt")):
            refs.append(ItemRef(str(wav), "recording", None, None, span.start_s, span.end_s))
            labels.append(span.label)
    settings = {"audio": {"sample_rate": 32000, "duration_s": 0.25, "hop_length": 128}}
    features = featurise("audio", refs, settings)
    classes = sorted(set(labels))
    y = np.array([classes.index(labels[i]) for i in features.kept], dtype=np.int64)
    return Task("finch syllable class", "audio", "cnn", features.x, y, classes)


def cross_validate(task: Task, *, folds: int, epochs: int, seed: int) -> dict:
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from learner.networks import build

    scores: dict[str, list[float]] = {
        "macro_f1": [],
        "accuracy": [],
        "ece": [],
        "ece_calibrated": [],
    }
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train_val, test) in enumerate(splitter.split(task.x, task.y)):
        counts = np.bincount(task.y[train_val])
        stratify = task.y[train_val] if counts[counts > 0].min() >= 2 else None
        train, val = train_test_split(
            train_val, test_size=0.15, random_state=seed + fold, stratify=stratify
        )
        model = build(
            task.modality,
            task.arch,
            n_classes=len(task.classes),
            input_shape=(1, *task.x.shape[1:]),
        )
        config = TrainConfig(
            arch=task.arch,
            epochs=epochs,
            batch_size=32,
            patience=15,
            min_epochs=25,
            seed=seed + fold,
            device="cpu",
        )
        augment = None
        if task.modality == "crop":
            from learner.augment import augment_batch

            augment = augment_batch
        result = fit(
            model,
            task.x[train],
            task.y[train],
            task.x[val],
            task.y[val],
            config,
            n_classes=len(task.classes),
            augment=augment,
            progress=False,
        )
        model.load_state_dict(result.state_dict)
        val_logits = predict_logits(model, task.x[val], device="cpu")
        test_logits = predict_logits(model, task.x[test], device="cpu")
        temperature = calibration.fit_temperature(val_logits, task.y[val])
        raw = calibration.softmax(test_logits)
        scaled = calibration.softmax(test_logits, temperature)
        report = metrics.classification_report(task.y[test], scaled, task.classes)
        scores["macro_f1"].append(report["macro_f1"])
        scores["accuracy"].append(report["accuracy"])
        scores["ece"].append(metrics.expected_calibration_error(task.y[test], raw))
        scores["ece_calibrated"].append(metrics.expected_calibration_error(task.y[test], scaled))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"python {platform.python_version()}"
    )
    tasks = [*rampp_tasks(args.data), piped_task(args.data), finch_task(args.data)]
    header = (
        f"{'task':<26} {'model':<8} {'items':>5} {'classes':>7} {'macro-F1':>15} "
        f"{'accuracy':>15} {'ECE':>13} {'ECE (T-scaled)':>15} {'seconds':>8}"
    )
    print(header)
    print("-" * len(header))
    for task in tasks:
        started = time.perf_counter()
        scores = cross_validate(task, folds=args.folds, epochs=args.epochs, seed=args.seed)
        cells = {k: f"{np.mean(v):.3f} ± {np.std(v):.3f}" for k, v in scores.items()}
        print(
            f"{task.name:<26} {task.arch:<8} {len(task.y):>5} {len(task.classes):>7} "
            f"{cells['macro_f1']:>15} {cells['accuracy']:>15} {cells['ece']:>13} "
            f"{cells['ece_calibrated']:>15} {time.perf_counter() - started:>8.1f}"
        )
    print(f"{args.folds}-fold stratified cross-validation; mean ± standard deviation over folds.")


if __name__ == "__main__":
    main()
