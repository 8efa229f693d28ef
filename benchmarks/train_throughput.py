"""Training throughput of lenet5 on a generated crop snapshot: the product path (HDF5 snapshot →
decode once → epochs from memory) against the same model trained on the same tensors already in
memory, in the same run. The ratio says whether loading is the bottleneck.

    .venv/bin/python benchmarks/train_throughput.py [--n 100000] [--epochs 3]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from learner.featurise import featurise
    from learner.networks import build
    from learner.synthetic import CROP_CLASSES, write_crop_store
    from learner.training import TrainConfig, fit, seed_everything
    from prelabel.ingest import ingest
    from prelabel.train import refs_of, train_model
    from store import schema
    from store.engine import make_engine, transaction
    from store.projects import create_project
    from store.snapshots import create_snapshot, snapshot_entries

    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch "
        f"threads, torch {torch.__version__}, python {platform.python_version()}"
    )
    cache = args.cache or Path(f"/tmp/loupe-bench/train-crops-{args.n}")
    if not (cache / "spatter.h5").exists():
        print(f"generating {args.n:,} labelled crops into {cache} ...", flush=True)
        write_crop_store(cache, args.n, seed=0, labelled_fraction=1.0, progress=True)
    work = Path(tempfile.mkdtemp(prefix="loupe-train-bench-"))
    url = f"sqlite:///{work / 'bench.db'}"
    schema.upgrade(url)
    engine = make_engine(url)
    with transaction(engine) as session:
        project_id = create_project(session, "bench", "crop", list(CROP_CLASSES)).id
    ingest(engine, "bench", [cache], progress=False)
    with transaction(engine) as session:
        snapshot = create_snapshot(session, project_id)
        entries = snapshot_entries(session, snapshot.id)
    train_items = sum(1 for e in entries if e.split == "train")
    config = TrainConfig(
        arch="lenet5",
        epochs=args.epochs,
        batch_size=args.batch_size,
        patience=args.epochs + 1,
        seed=0,
        device="cpu",
    )

    print(
        f"product path: snapshot of {len(entries):,} entries ({train_items:,} train) ...",
        flush=True,
    )
    started = time.perf_counter()
    result = train_model(
        engine, "bench", snapshot.name, config, models_dir=work / "models", progress=False
    )
    product_seconds = time.perf_counter() - started

    print("preloaded path: the same tensors, already decoded, in memory ...", flush=True)
    decode_started = time.perf_counter()
    features = featurise("crop", refs_of(entries))
    decode_seconds = time.perf_counter() - decode_started
    kept = [entries[i] for i in features.kept]
    y = np.array([CROP_CLASSES.index(e.label) for e in kept], dtype=np.int64)
    split = np.array([e.split for e in kept])
    seed_everything(0)
    model = build("crop", "lenet5", n_classes=len(CROP_CLASSES), input_shape=(1, 32, 32))
    from learner.augment import augment_batch

    started = time.perf_counter()
    fit(
        model,
        features.x[split == "train"],
        y[split == "train"],
        features.x[split == "val"],
        y[split == "val"],
        config,
        n_classes=len(CROP_CLASSES),
        augment=augment_batch,
        progress=False,
    )
    preloaded_seconds = time.perf_counter() - started

    samples = args.epochs * train_items
    product_rate, preloaded_rate = samples / product_seconds, samples / preloaded_seconds
    print()
    print(f"{'path':<52} {'seconds':>8} {'samples/s':>10}")
    print(
        f"{'product: HDF5 snapshot -> decode once -> train':<52} {product_seconds:>8.1f} "
        f"{product_rate:>10,.0f}"
    )
    print(
        f"{'preloaded tensors -> train (same model, same config)':<52} {preloaded_seconds:>8.1f} "
        f"{preloaded_rate:>10,.0f}"
    )
    print(
        f"{'decode + prepare alone':<52} {decode_seconds:>8.1f} "
        f"{len(entries) / decode_seconds:>10,.0f} crops/s"
    )
    print(
        f"ratio product/preloaded: {product_rate / preloaded_rate:.2f} "
        f"({args.epochs} epochs of {train_items:,} crops, batch {args.batch_size}, model version "
        f"{result['model_version']})"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
