"""``loupe demo``: a workspace with one generated project per modality, ingested, a first model
trained on the imported labels, and suggestions for every item.

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
from store.models import ModelVersion
from store.projects import create_project, get_project
from store.snapshots import create_snapshot


@dataclass(frozen=True)
class DemoSize:
    recordings: int
    spectra: int
    crops: int
    crops_labelled: float


SIZES = {
    "small": DemoSize(recordings=12, spectra=240, crops=4000, crops_labelled=0.1),
    "large": DemoSize(recordings=120, spectra=3000, crops=100_000, crops_labelled=0.02),
}

PROJECTS = {
    "demo-audio": ("audio", AUDIO_CLASSES),
    "demo-spectra": ("spectrum", SPECTRUM_CLASSES),
    "demo-crops": ("crop", CROP_CLASSES),
}


def build_demo(workspace: Path, *, database_url: str, size: str = "small", seed: int = 0) -> dict:
    """Generate, migrate, create, ingest, train, prelabel; every step is skipped when done.

    Returns the workspace, the database and per-project counts.
    """
    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r}: choose one of {', '.join(SIZES)}")
    workspace = workspace.expanduser().resolve()
    folders = generate_data(workspace, SIZES[size], seed)
    schema.upgrade(database_url)
    engine = make_engine(database_url)
    create_projects(engine)
    ingest_data(engine, folders)
    models = train_first_models(engine, workspace / "models")
    prelabel_all(engine)
    counts = project_counts(engine)
    engine.dispose()
    return {
        "workspace": str(workspace),
        "database": safe_url(database_url),
        "projects": counts,
        "models": models,
    }


def generate_data(workspace: Path, size: DemoSize, seed: int) -> dict[str, Path]:
    folders = {name: workspace / name.removeprefix("demo-") for name in PROJECTS}
    audio, spectra, crops = folders["demo-audio"], folders["demo-spectra"], folders["demo-crops"]
    if not any(audio.glob("*.wav")):
        write_recordings(audio, size.recordings, seed=seed)
    if not any(spectra.glob("*.txt")):
        write_spectra(spectra, size.spectra, seed=seed)
    if not any(crops.glob("*.h5")):
        write_crop_store(
            crops, size.crops, seed=seed, labelled_fraction=size.crops_labelled, progress=True
        )
    return folders


def create_projects(engine: Engine) -> None:
    with transaction(engine) as session:
        for name, (modality, classes) in PROJECTS.items():
            try:
                get_project(session, name)
            except NotFoundError:
                create_project(session, name, modality, list(classes))


def ingest_data(engine: Engine, folders: dict[str, Path]) -> None:
    for name, folder in folders.items():
        ingest(engine, name, [folder], progress=True)


DEMO_EPOCHS = 15


def train_first_models(engine: Engine, models_dir: Path) -> dict[str, dict]:
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
        config = TrainConfig(arch="", epochs=DEMO_EPOCHS, min_epochs=5, seed=0)
        trained = train_model(engine, name, snapshot, config, models_dir=models_dir)
        report = evaluate_version(engine, trained["model_version"])
        promote_version(engine, trained["model_version"])
        models[name] = {
            "model_version": trained["model_version"],
            "arch": trained["arch"],
            "macro_f1": report["macro_f1"],
            "accuracy": report["accuracy"],
        }
    return models


def prelabel_all(engine: Engine) -> None:
    for name in PROJECTS:
        run_prelabel(engine, name, progress=True)


def project_counts(engine: Engine) -> dict[str, dict]:
    with transaction(engine) as session:
        return {
            name: catalog.project_status(session, get_project(session, name).id)
            for name in PROJECTS
        }
