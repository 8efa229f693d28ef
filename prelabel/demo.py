"""``loupe demo``: a workspace with one generated project per modality, ingested, a first model
trained on the imported labels, and suggestions for every item.

Only part of each project comes labelled (half the recordings, 70 % of the spectra, a tenth of
the crops); the rest is what the annotator's queue serves, most uncertain first. The answers held
back are kept beside the data (``*-truth``) for simulated annotators.

One function with one step per stage, so later stages (prelabel, serve) add a step here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from learner.synthetic.audio import AUDIO_CLASSES, write_recordings
from learner.synthetic.crops import CROP_CLASSES, write_crop_store
from learner.synthetic.spectra import SPECTRUM_CLASSES, write_spectra
from learner.training import TrainConfig
from prelabel.evaluate import evaluate_version, promote_version
from prelabel.ingest import ingest
from prelabel.prelabel import run_prelabel
from prelabel.train import train_model
from store import catalog, schema
from store.engine import make_engine, safe_url, transaction
from store.errors import NotFoundError
from store.models import ModelVersion, User
from store.projects import create_project, get_project
from store.snapshots import create_snapshot


@dataclass(frozen=True)
class DemoSize:
    recordings: int
    spectra: int
    crops: int
    crops_labelled: float
    recordings_labelled: float = 0.5
    spectra_labelled: float = 0.7


SIZES = {
    "small": DemoSize(recordings=20, spectra=400, crops=4000, crops_labelled=0.1),
    "large": DemoSize(recordings=120, spectra=3000, crops=100_000, crops_labelled=0.02),
}

DEMO_USER = "demo"
DEMO_PASSWORD = "loupe-demo"
"""A local admin account so the demo can be signed into at once; change it for real work."""

PROJECTS = {
    "demo-audio": ("audio", AUDIO_CLASSES),
    "demo-spectra": ("spectrum", SPECTRUM_CLASSES),
    "demo-crops": ("crop", CROP_CLASSES),
}


def build_demo(
    workspace: Path,
    *,
    database_url: str,
    size: str = "small",
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Generate, migrate, create, ingest, train, prelabel; every step is skipped when done.
    ``progress`` draws progress bars on stderr.

    Returns the workspace, the database and per-project counts.
    """
    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r}: choose one of {', '.join(SIZES)}")
    workspace = workspace.expanduser().resolve()
    folders = generate_data(workspace, SIZES[size], seed, progress)
    schema.upgrade(database_url)
    engine = make_engine(database_url)
    create_projects(engine)
    ensure_demo_user(engine)
    ingest_data(engine, folders, progress)
    models = train_first_models(engine, workspace / "models", progress)
    prelabel_all(engine, progress)
    counts = project_counts(engine)
    engine.dispose()
    return {
        "workspace": str(workspace),
        "database": safe_url(database_url),
        "projects": counts,
        "models": models,
        "sign_in": {"user": DEMO_USER, "password": DEMO_PASSWORD},
    }


def generate_data(
    workspace: Path, size: DemoSize, seed: int, progress: bool = True
) -> dict[str, Path]:
    folders = {name: workspace / name.removeprefix("demo-") for name in PROJECTS}
    audio, spectra, crops = folders["demo-audio"], folders["demo-spectra"], folders["demo-crops"]
    if not any(audio.glob("*.wav")):
        write_recordings(audio, size.recordings, seed=seed)
        hold_back_audio_labels(audio, size.recordings_labelled)
    if not any(spectra.glob("*.txt")):
        write_spectra(spectra, size.spectra, seed=seed)
        write_partial_spectrum_labels(spectra, size.spectra_labelled)
    if not any(crops.glob("*.h5")):
        write_crop_store(
            crops, size.crops, seed=seed, labelled_fraction=size.crops_labelled, progress=progress
        )
    return folders


def hold_back_audio_labels(folder: Path, labelled: float) -> None:
    """Move the label files of the later recordings to ``audio-truth``: their events are found
    by the detector and reviewed in the annotator instead of being imported."""
    truth = folder.parent / f"{folder.name}-truth"
    truth.mkdir(exist_ok=True)
    label_files = sorted(folder.glob("*.txt"))
    for path in label_files[max(1, round(len(label_files) * labelled)) :]:
        path.rename(truth / path.name)


def write_partial_spectrum_labels(folder: Path, labelled: float) -> None:
    """``spectra-labels.csv`` beside the folder for a spread-out share of the files; every
    answer goes to the truth CSV."""
    classes = dict(zip(("sta", "wea"), SPECTRUM_CLASSES, strict=True))
    files = sorted(folder.glob("*.txt"))
    truth = folder.parent / f"{folder.name}-truth"
    truth.mkdir(exist_ok=True)
    rows = [(f.name, classes[f.name[:3]]) for f in files]
    # File i is labelled when the running count of labelled files steps up: an even spread.
    chosen = {i for i in range(len(rows)) if int((i + 1) * labelled) > int(i * labelled)}
    (truth / "labels.csv").write_text(
        "file,label\n" + "".join(f"../{folder.name}/{n},{c}\n" for n, c in rows)
    )
    (folder.parent / "spectra-labels.csv").write_text(
        "file,label\n"
        + "".join(f"{folder.name}/{n},{c}\n" for i, (n, c) in enumerate(rows) if i in chosen)
    )


def create_projects(engine: Engine) -> None:
    with transaction(engine) as session:
        for name, (modality, classes) in PROJECTS.items():
            try:
                get_project(session, name)
            except NotFoundError:
                # Spectra take their labels from the partial labels CSV, not the file names.
                settings = {"label_prefixes": {}} if modality == "spectrum" else None
                create_project(session, name, modality, list(classes), settings)


def ensure_demo_user(engine: Engine) -> None:
    from store.accounts import add_user

    with transaction(engine) as session:
        if session.scalar(select(User.id).where(User.name == DEMO_USER)) is None:
            add_user(session, DEMO_USER, "admin", DEMO_PASSWORD)


def ingest_data(engine: Engine, folders: dict[str, Path], progress: bool = True) -> None:
    for name, folder in folders.items():
        labels = folder.parent / "spectra-labels.csv" if name == "demo-spectra" else None
        ingest(engine, name, [folder], labels_csv=labels, progress=progress)


DEMO_EPOCHS = 40


def train_first_models(engine: Engine, models_dir: Path, progress: bool = True) -> dict[str, dict]:
    """A first model per project from its imported labels: snapshot, train, evaluate, promote.
    Projects that already have an active version keep it."""
    models = {}
    for name in PROJECTS:
        with transaction(engine) as session:
            project = get_project(session, name)
            active = session.scalar(
                select(ModelVersion.id).where(
                    ModelVersion.project_id == project.id, ModelVersion.status == "active"
                )
            )
            if active is not None:
                models[name] = {"model_version": active}
                continue
            snapshot = create_snapshot(session, project.id).name
        config = TrainConfig(arch="", epochs=DEMO_EPOCHS, min_epochs=15, seed=0)
        trained = train_model(
            engine, name, snapshot, config, models_dir=models_dir, progress=progress
        )
        report = evaluate_version(engine, trained["model_version"])
        promote_version(engine, trained["model_version"])
        models[name] = {
            "model_version": trained["model_version"],
            "arch": trained["arch"],
            "macro_f1": report["macro_f1"],
            "accuracy": report["accuracy"],
        }
    return models


def prelabel_all(engine: Engine, progress: bool = True) -> None:
    for name in PROJECTS:
        run_prelabel(engine, name, progress=progress)


def project_counts(engine: Engine) -> dict[str, dict]:
    with transaction(engine) as session:
        return {
            name: catalog.project_status(session, get_project(session, name).id)
            for name in PROJECTS
        }
