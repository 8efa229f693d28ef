"""The pieces of the active-learning simulation: datasets read the way Loupe reads them, and the
learners a simulated project retrains every round.

A dataset is ingested into a temporary SQLite Loupe database (the real migrations, the real
ingest, the real label resolution), then featurised with the project's settings, so the
benchmark sees exactly the items and labels a project made from the same files would hold.
"""

from __future__ import annotations

import csv
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SYNTHETIC_CROPS = 50_000
LABEL_FROM = ("column-word",)
"""``column-word``: a matrix column's label is the first word of its name (RaMPP: ``PA V3``)."""


@dataclass(frozen=True)
class Preset:
    relative: str | None
    """Folder under the shared data; ``None`` for a generated set."""
    modality: str
    classes: tuple[str, ...] | None = None
    settings: dict = field(default_factory=dict)
    label_from: str | None = None
    score_sample: int | None = None
    """Pool items scored per round (a uniform sample); ``None`` scores the whole pool."""


PRESETS: dict[str, Preset] = {
    "rampp": Preset("spectra/rampp/raw", "spectrum", label_from="column-word"),
    "piped": Preset("crops/piped", "crop", ("defect", "no_defect")),
    "finch": Preset(
        "audio/finch",
        "audio",
        tuple(str(i) for i in range(9)),
        # Finch syllables are short: a quarter-second window at the recordings' own rate.
        {"audio": {"sample_rate": 32000, "duration_s": 0.25, "hop_length": 128}},
    ),
    "synthetic-crops": Preset(None, "crop", score_sample=10_000),
}


@dataclass
class Dataset:
    name: str
    modality: str
    classes: list[str]
    x: NDArray[np.float32]
    y: NDArray[np.int64]
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ datasets


def column_word_labels(folder: Path, out: Path) -> Path:
    """A labels CSV (``file,column,label``) giving each matrix column the first word of its
    name, for every spectrum matrix under ``folder``.

    Raises
    ------
    ValueError
        No spectrum matrix with named columns under ``folder``.
    """
    from learner.formats.errors import FormatError
    from learner.formats.spectra import SPECTRUM_SUFFIXES, read_spectrum_table

    rows = []
    files = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
    for path in files:
        if path.suffix.lower() not in SPECTRUM_SUFFIXES:
            continue
        try:
            table = read_spectrum_table(path)
        except (FormatError, OSError):
            continue  # ingest records why; here it simply has no labels to give
        if table.is_matrix:
            rows += [(str(path.resolve()), c.name, c.name.split()[0]) for c in table.columns]
    if not rows:
        raise ValueError(
            f"--label-from column-word: no spectrum matrix with named columns in {folder}"
        )
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("file", "column", "label"))
        writer.writerows(rows)
    return out


def infer_classes(paths: list[Path], modality: str, labels_csv: Path | None) -> list[str]:
    """The class names the labels in the data use, sorted.

    Raises
    ------
    ValueError
        No labels found where this function knows to look; ``--classes`` is then needed.
    """
    from learner.formats import audio, crops
    from learner.formats.labels_csv import read_labels_csv

    found: set[str] = set()
    if labels_csv is not None:
        table = read_labels_csv(labels_csv)
        found |= {row.label for row in table.rows.values()}
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*")))]
    for path in files:
        suffix = path.suffix.lower()
        if modality == "crop" and suffix == ".csv" and crops.is_crop_index(path):
            found |= {row.label for row in crops.read_crop_index(path)[0] if row.label}
        elif modality == "crop" and suffix in crops.IMAGE_SUFFIXES:
            root = next(p for p in paths if p == path or p in path.parents)
            found |= {crops.image_class(path, root)} - {""}
        elif modality == "audio" and suffix in audio.AUDIO_SUFFIXES:
            label_file = audio.find_label_file(path)
            if label_file is not None:
                found |= {span.label for span in audio.read_label_file(label_file)}
    if not found:
        raise ValueError("no labels found in the data: pass --classes a,b,... (and --labels CSV)")
    return sorted(found)


def synthetic_crops(n: int, cache: Path, *, progress: bool) -> Path:
    """A folder with ``n`` labelled generated crops (HDF5 + index CSV), written once."""
    from learner.synthetic.crops import write_crop_store

    folder = cache / f"synthetic-crops-{n}"
    if not (folder / "index.csv").is_file():
        write_crop_store(folder, n, seed=0, progress=progress)
    return folder


def load_dataset(
    name: str,
    paths: list[Path],
    modality: str,
    *,
    classes: list[str] | None,
    labels_csv: Path | None = None,
    label_from: str | None = None,
    settings: dict | None = None,
    progress: bool = True,
) -> Dataset:
    """Ingest ``paths`` into a temporary Loupe database and return every labelled item's model
    input and label.

    Raises
    ------
    ValueError
        No labelled item could be read, or the classes cannot be found.
    """
    from sqlalchemy import select

    from learner.featurise import ItemRef, featurise
    from prelabel.ingest import ingest
    from store import schema
    from store.engine import make_engine, transaction
    from store.models import Item, Source
    from store.projects import create_project
    from store.snapshots import resolve_labels

    with tempfile.TemporaryDirectory(prefix="loupe-al-") as scratch:
        work = Path(scratch)
        if label_from == "column-word":
            labels_csv = column_word_labels(paths[0], work / "labels.csv")
        elif label_from is not None:
            raise ValueError(f"unknown --label-from {label_from!r}: choose one of {LABEL_FROM}")
        classes = classes or infer_classes(paths, modality, labels_csv)
        url = f"sqlite:///{work / 'loupe.db'}"
        schema.upgrade(url)
        engine = make_engine(url)
        try:
            with transaction(engine) as session:
                project = create_project(session, "benchmark", modality, classes, settings)
                project_id, project_settings = project.id, dict(project.settings)
            report = ingest(
                engine,
                "benchmark",
                paths,
                labels_csv=labels_csv,
                progress=progress,
                derived_dir=work / "derived",
            )
            with transaction(engine) as session:
                resolution = resolve_labels(session, project_id)
                items = {
                    row.id: row
                    for row in session.execute(
                        select(
                            Item.id,
                            Source.uri,
                            Source.kind,
                            Item.member,
                            Item.position,
                            Item.start_s,
                            Item.end_s,
                        )
                        .join(Source, Source.id == Item.source_id)
                        .where(Item.project_id == project_id)
                    )
                }
        finally:
            engine.dispose()
        labels = sorted(resolution.labels, key=lambda label: label.item_id)
        refs = []
        for label in labels:
            row = items[label.item_id]
            # A person may have moved an audio span; the resolved label's span is the truth.
            start_s = label.start_s if label.start_s is not None else row.start_s
            end_s = label.end_s if label.end_s is not None else row.end_s
            refs.append(ItemRef(row.uri, row.kind, row.member, row.position, start_s, end_s))
        features = featurise(modality, refs, project_settings)
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[labels[int(i)].label] for i in features.kept], dtype=np.int64)
    if len(y) == 0:
        raise ValueError(f"no labelled item could be read from {', '.join(map(str, paths))}")
    notes = [
        f"{report.items_added} items ingested, {len(labels)} labelled, {len(y)} readable",
    ]
    if report.errors:
        notes.append(f"{len(report.errors)} ingest errors (left out)")
    if features.failures:
        notes.append(f"{len(features.failures)} labelled items unreadable (left out)")
    return Dataset(name, modality, list(classes), features.x, y, notes)


def preset_dataset(name: str, data_root: Path, cache: Path, *, progress: bool) -> Dataset:
    """A named dataset: the shipped sets under ``data_root``, or the generated crops."""
    preset = PRESETS[name]
    if preset.relative is None:
        from learner.synthetic.crops import CROP_CLASSES

        folder = synthetic_crops(SYNTHETIC_CROPS, cache, progress=progress)
        return load_dataset(name, [folder], "crop", classes=list(CROP_CLASSES), progress=progress)
    folder = data_root / preset.relative
    if not folder.exists():
        raise FileNotFoundError(f"the {name} data is expected at {folder} (see --shared-data)")
    return load_dataset(
        name,
        [folder],
        preset.modality,
        classes=list(preset.classes) if preset.classes else None,
        label_from=preset.label_from,
        settings=preset.settings,
        progress=progress,
    )


# ------------------------------------------------------------------------------ learners


@dataclass
class Prediction:
    probabilities: NDArray[np.float64]
    embeddings: NDArray[np.float32]
    mc_probabilities: NDArray[np.float64] | None
    """``(T, n, C)`` from Monte-Carlo dropout; ``None`` where the learner has none."""


@dataclass(frozen=True)
class Schedule:
    """A fixed schedule for tiny training sets: ``epochs`` passes, but never fewer than
    ``min_steps`` nor more than ``max_steps`` optimiser steps; no validation, no early stop."""

    min_steps: int
    epochs: int
    max_steps: int = 3000
    batch_size: int = 32
    learning_rate: float = 1e-3

    def epochs_for(self, n: int) -> int:
        batches = math.ceil(n / self.batch_size)
        steps = min(max(self.min_steps, self.epochs * batches), self.max_steps)
        return max(1, math.ceil(steps / batches))

    def batch_for(self, n: int) -> int:
        """At most ``batch_size``, split evenly: ``fit`` ends every epoch on the remainder, and
        a remainder of one or two items (225 labels in batches of 32) made the last step of
        each epoch a noisy one; finch models lost ~0.1 macro-F1 to it."""
        return math.ceil(n / math.ceil(n / self.batch_size))


DEFAULT_SCHEDULES = {
    # LeNet-5 without batch norm sits on a plateau for a few hundred steps, and is cheap.
    "crop": Schedule(min_steps=400, epochs=20),
    "spectrum": Schedule(min_steps=60, epochs=8),
    "audio": Schedule(min_steps=60, epochs=8),
}


class NetworkLearner:
    """Loupe's own network for the modality, trained from scratch by ``learner.training.fit``.

    Probabilities are an uncalibrated softmax: with a few dozen labels there is no validation
    set to fit a temperature on. BALD's passes and the embeddings come from
    ``learner.embeddings``, as prelabel computes them.
    """

    def __init__(
        self,
        modality: str,
        n_classes: int,
        input_shape: tuple[int, ...],
        arch: str,
        schedule: Schedule,
        *,
        mc_passes: int,
    ) -> None:
        self.modality, self.n_classes, self.arch = modality, n_classes, arch
        self.input_shape, self.schedule, self.mc_passes = input_shape, schedule, mc_passes
        self.model_ = None

    @property
    def description(self) -> str:
        s = self.schedule
        return (
            f"{self.arch} (Loupe's {self.modality} network), from scratch each round: "
            f"max({s.min_steps} steps, {s.epochs} epochs) capped at {s.max_steps} steps, "
            f"even batches of at most {s.batch_size}, AdamW lr {s.learning_rate:g}, "
            f"class-weighted loss, no early stopping, no temperature scaling"
        )

    def bald_note(self) -> str:
        from torch import nn

        from learner.embeddings import dropout_rate
        from learner.networks import build

        model = build(
            self.modality, self.arch, n_classes=self.n_classes, input_shape=self.input_shape
        )
        rate = dropout_rate(model)
        if isinstance(model[-2], nn.Dropout):
            return f"MC dropout: the network's own dropout ({rate:g}) feeds its head"
        where = (
            "it has dropout only earlier"
            if any(isinstance(m, nn.Dropout) for m in model.modules())
            else "it has none at all"
        )
        return (
            f"approximate: no dropout before the head ({where}); masks of {rate:g} on the "
            f"embedding of a network trained without them, as prelabel draws them"
        )

    def fit(self, x: NDArray[np.float32], y: NDArray[np.int64], seed: int) -> NetworkLearner:
        import torch

        from learner.augment import augment_batch
        from learner.networks import build
        from learner.training import TrainConfig, fit, seed_everything

        epochs = self.schedule.epochs_for(len(x))
        config = TrainConfig(
            arch=self.arch,
            epochs=epochs,
            batch_size=self.schedule.batch_for(len(x)),
            learning_rate=self.schedule.learning_rate,
            patience=epochs,
            min_epochs=epochs,
            seed=seed,
            device="cpu",
        )
        seed_everything(seed)  # the initial weights come from the seed too
        model = build(
            self.modality, self.arch, n_classes=self.n_classes, input_shape=self.input_shape
        )
        if self.modality == "audio":
            # Same arithmetic; the audio CNN trains ~1.45x faster channels-last on a 2-core
            # EPYC (LeNet-5 showed no steady gain, 1-D networks have no such layout).
            model = model.to(memory_format=torch.channels_last)
        augment = augment_batch if self.modality == "crop" else None
        result = fit(
            model,
            x,
            y,
            x[:0],
            y[:0],
            config,
            n_classes=self.n_classes,
            augment=augment,
            progress=False,
        )
        model.load_state_dict(result.state_dict)
        self.model_ = model.eval()
        return self

    def predict(self, x: NDArray[np.float32], *, mc: bool = False, seed: int = 0) -> Prediction:
        import torch

        from learner.calibration import softmax
        from learner.embeddings import HeadDropout, forward_with_embeddings

        dropout = HeadDropout.of(self.model_, passes=self.mc_passes, seed=seed) if mc else None
        logits, embeddings, passes = [], [], []
        with torch.inference_mode():
            for start in range(0, len(x), 1024):
                batch = torch.as_tensor(x[start : start + 1024, None])
                chunk_logits, chunk_embeddings = forward_with_embeddings(self.model_, batch)
                logits.append(chunk_logits.double().numpy())
                embeddings.append(chunk_embeddings.float().numpy())
                if dropout is not None:
                    passes.append(dropout.probabilities(chunk_embeddings))
        width = self.n_classes
        return Prediction(
            softmax(np.concatenate(logits)) if logits else np.zeros((0, width)),
            np.concatenate(embeddings) if embeddings else np.zeros((0, 1), np.float32),
            np.concatenate(passes, axis=1) if passes else None,
        )


class LinearLearner:
    """Logistic regression on the cheap features cold start clusters on (a crop's intensity
    statistics, a spectrum at 50 points, a segment's mean log-mel), standardised."""

    description = "linear: logistic regression (scikit-learn) on standardised cheap features"

    def __init__(self, modality: str, n_classes: int) -> None:
        self.modality, self.n_classes = modality, n_classes
        self.model_ = None

    def bald_note(self) -> str:
        return "not applicable: a linear model has no dropout"

    def _features(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        from prelabel.ranking import cheap_features

        return cheap_features(self.modality, x).astype(np.float64)

    def fit(self, x: NDArray[np.float32], y: NDArray[np.int64], seed: int) -> LinearLearner:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed),
        )
        if len(np.unique(y)) < 2:  # one class seen: it is all the model can say
            self.model_ = ("constant", int(y[0]))
            return self
        self.model_ = model.fit(self._features(x), y)
        return self

    def predict(self, x: NDArray[np.float32], *, mc: bool = False, seed: int = 0) -> Prediction:
        features = self._features(x)
        probabilities = np.zeros((len(x), self.n_classes))
        if isinstance(self.model_, tuple):
            probabilities[:, self.model_[1]] = 1.0
            embeddings = features
        else:
            seen = self.model_[-1].classes_
            probabilities[:, seen] = self.model_.predict_proba(features)
            embeddings = self.model_[0].transform(features)
        return Prediction(probabilities, embeddings.astype(np.float32), None)


# ------------------------------------------------------------------------------ protocol


@dataclass(frozen=True)
class Protocol:
    rounds: int
    batch: int
    start_per_class: int = 5
    test_share: float = 0.25
    audit_share: float = 0.10
    target_error: float = 0.02
    score_sample: int | None = None
    large_audit: int = 1000
    """Size of a second, larger random audit sample drawn from the unlabelled pool at the end,
    to see pseudo-labels the protocol's own few audit picks cannot open the gate for."""
    strategies: tuple[str, ...] = ()
    """The strategies run as learning curves (cold start is judged on the seed set alone)."""


@dataclass
class RoundInputs:
    """What a strategy may read about the pool items it chooses among."""

    candidates: NDArray[np.int64]
    """Dataset indices of the scored unlabelled items."""
    prediction: Prediction
    labelled_embeddings: NDArray[np.float32]


@dataclass
class SeedStart:
    seed: int
    pool: NDArray[np.int64]
    test: NDArray[np.int64]
    start: NDArray[np.int64]
    start_f1: float
    full_f1: float
    cold_start_f1: float
    uniform_start_f1: float
    cold_start_classes: int
    uniform_start_classes: int
    first_round: RoundInputs
    seconds: float


@dataclass
class Curve:
    seed: int
    strategy: str
    labels: list[int]
    f1: list[float]
    audit: int
    pseudo: dict
    pseudo_large_audit: dict
    seconds: float


class Simulation:
    """One dataset, one learner, one protocol; every method is one seed's share of the work."""

    def __init__(self, dataset: Dataset, make_learner, protocol: Protocol) -> None:  # type: ignore[no-untyped-def]
        self.data, self.make_learner, self.protocol = dataset, make_learner, protocol
        self.n_classes = len(dataset.classes)

    # --- pieces

    def split(self, seed: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """A held-out test set, stratified when every class has at least two items."""
        from sklearn.model_selection import train_test_split

        y = self.data.y
        counts = np.bincount(y, minlength=self.n_classes)
        stratify = y if counts[counts > 0].min() >= 2 else None
        pool, test = train_test_split(
            np.arange(len(y)),
            test_size=self.protocol.test_share,
            stratify=stratify,
            random_state=seed,
        )
        return np.sort(pool).astype(np.int64), np.sort(test).astype(np.int64)

    def stratified_start(self, pool: NDArray[np.int64], seed: int) -> NDArray[np.int64]:
        rng = np.random.default_rng([seed, 0])
        per_class = self.protocol.start_per_class
        picks = [
            rng.permutation(pool[self.data.y[pool] == c])[:per_class] for c in range(self.n_classes)
        ]
        return np.sort(np.concatenate(picks)).astype(np.int64)

    def candidates(
        self, unlabelled: NDArray[np.int64], seed: int, round_: int
    ) -> NDArray[np.int64]:
        """The unlabelled items scored this round: all, or one uniform sample by the same rule
        for every strategy."""
        n = self.protocol.score_sample
        if n is None or len(unlabelled) <= n:
            return unlabelled
        rng = np.random.default_rng([seed, round_, 1])
        return np.sort(rng.choice(unlabelled, n, replace=False))

    def fit(self, items: NDArray[np.int64], seed: int):  # type: ignore[no-untyped-def]
        return self.make_learner().fit(self.data.x[items], self.data.y[items], seed)

    def macro_f1(self, learner, test: NDArray[np.int64]) -> float:  # type: ignore[no-untyped-def]
        from learner.metrics import classification_report

        probabilities = learner.predict(self.data.x[test]).probabilities
        return classification_report(self.data.y[test], probabilities, self.data.classes)[
            "macro_f1"
        ]

    def round_inputs(self, learner, candidates, labelled, seed: int) -> RoundInputs:  # type: ignore[no-untyped-def]
        mc = "bald" in self.protocol.strategies
        prediction = learner.predict(self.data.x[candidates], mc=mc, seed=seed)
        labelled_embeddings = learner.predict(self.data.x[labelled]).embeddings
        return RoundInputs(candidates, prediction, labelled_embeddings)

    def choose(self, strategy: str, inputs: RoundInputs, seed: int) -> tuple[NDArray, NDArray]:
        """``batch`` dataset indices picked by ``strategy`` with the audit share mixed in."""
        from learner import strategies

        prediction, k = inputs.prediction, self.protocol.batch
        given: dict = {"probabilities": prediction.probabilities}
        if strategy == "bald":
            given = {"mc_probabilities": prediction.mc_probabilities}
        elif strategy == "diverse":
            given |= {
                "embeddings": prediction.embeddings,
                "labelled_embeddings": inputs.labelled_embeddings,
            }
        ranked = strategies.select(strategy, k, seed=seed, **given)
        picks, audit = strategies.mix_audit(
            ranked, len(inputs.candidates), k, share=self.protocol.audit_share, seed=seed
        )
        return inputs.candidates[picks], audit

    # --- one seed

    def seed_start(self, seed: int) -> SeedStart:
        """The split, the protocol's seed set and its model, the full-data model, and the
        label-blind seed sets: cold start against uniform random, of the same size."""
        import time

        from learner.strategies import cold_start
        from prelabel.ranking import MIXED_UNIT_FEATURES, cheap_features

        started = time.perf_counter()
        pool, test = self.split(seed)
        start = self.stratified_start(pool, seed)
        learner = self.fit(start, seed * 1000)
        start_f1 = self.macro_f1(learner, test)
        first = self.round_inputs(
            learner, self.candidates(np.setdiff1d(pool, start), seed, 1), start, seed * 1000 + 1
        )
        full_f1 = self.macro_f1(self.fit(pool, seed * 1000 + 999), test)
        blind = self.candidates(pool, seed, 0)
        cold = blind[
            cold_start(
                cheap_features(self.data.modality, self.data.x[blind]),
                len(start),
                seed=seed,
                standardise=self.data.modality in MIXED_UNIT_FEATURES,
            )
        ]
        uniform = np.random.default_rng([seed, 2]).choice(pool, len(start), replace=False)
        scores = [self.macro_f1(self.fit(s, seed * 1000), test) for s in (cold, uniform)]
        return SeedStart(
            seed,
            pool,
            test,
            start,
            start_f1,
            full_f1,
            scores[0],
            scores[1],
            len(np.unique(self.data.y[cold])),
            len(np.unique(self.data.y[uniform])),
            first,
            time.perf_counter() - started,
        )

    def curve(self, strategy: str, base: SeedStart) -> Curve:
        """The rounds of one strategy from the shared seed set, then its pseudo-labels."""
        import time

        started = time.perf_counter()
        seed, labelled, inputs = base.seed, base.start, base.first_round
        audit: list[NDArray[np.int64]] = []
        labels, scores = [len(labelled)], [base.start_f1]
        for round_ in range(1, self.protocol.rounds + 1):
            picks, is_audit = self.choose(strategy, inputs, seed * 1000 + round_)
            labelled = np.sort(np.concatenate([labelled, picks]))
            audit.append(picks[is_audit])
            learner = self.fit(labelled, seed * 1000 + round_)
            labels.append(len(labelled))
            scores.append(self.macro_f1(learner, base.test))
            if round_ < self.protocol.rounds:
                unlabelled = np.setdiff1d(base.pool, labelled)
                inputs = self.round_inputs(
                    learner,
                    self.candidates(unlabelled, seed, round_ + 1),
                    labelled,
                    seed * 1000 + round_ + 1,
                )
        audit_items = np.concatenate(audit)
        pseudo, large = self.pseudo_labels(base, labelled, audit_items)
        seconds = time.perf_counter() - started
        return Curve(seed, strategy, labels, scores, len(audit_items), pseudo, large, seconds)

    def pseudo_labels(self, base: SeedStart, labelled, audit) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
        """Thresholds chosen on audit picks, pseudo-labels chosen from the unlabelled pool, and
        their true precision and coverage.

        The model is trained on the labels minus the audit picks, so its confidence on them is
        out of sample, as prelabel's evidence leaves out the items a version trained on.
        """
        seed = base.seed
        unlabelled = np.setdiff1d(base.pool, labelled)
        empty = {
            "audit": int(len(audit)),
            "accepted": 0,
            "coverage": 0.0,
            "precision": math.nan,
            "estimated_precision": math.nan,
        }
        if len(unlabelled) == 0 or len(audit) == 0 or len(audit) == len(labelled):
            return empty, empty | {"audit": 0}
        learner = self.fit(np.setdiff1d(labelled, audit), seed * 1000 + 998)
        on_audit = learner.predict(self.data.x[audit]).probabilities
        on_pool = learner.predict(self.data.x[unlabelled]).probabilities
        y_pool = self.data.y[unlabelled]
        own = self._decide(on_audit, self.data.y[audit], on_pool, y_pool)
        size = min(self.protocol.large_audit, len(unlabelled) // 2)
        if size < 1:
            return own, empty | {"audit": 0}
        drawn = np.random.default_rng([seed, 3]).permutation(len(unlabelled))
        sample, rest = drawn[:size], drawn[size:]
        large = self._decide(on_pool[sample], y_pool[sample], on_pool[rest], y_pool[rest])
        return own, large

    def _decide(self, audit_p, audit_y, pool_p, pool_y) -> dict:  # type: ignore[no-untyped-def]
        from learner.pseudo import choose_thresholds, estimated_precision, select_pseudo_labels

        audit_conf = np.clip(audit_p.max(axis=1), 0.0, 1.0)
        audit_pred = audit_p.argmax(axis=1)
        correct = audit_pred == audit_y
        thresholds = choose_thresholds(
            audit_conf, audit_pred, correct, self.n_classes, target_error=self.protocol.target_error
        )
        confidence, predicted = np.clip(pool_p.max(axis=1), 0.0, 1.0), pool_p.argmax(axis=1)
        chosen = select_pseudo_labels(confidence, predicted, thresholds)
        right = predicted[chosen] == pool_y[chosen]
        return {
            "audit": int(len(audit_y)),
            "accepted": int(len(chosen)),
            "coverage": len(chosen) / len(pool_y),
            "precision": float(right.mean()) if len(chosen) else math.nan,
            "estimated_precision": estimated_precision(thresholds, audit_conf, audit_pred, correct),
        }
