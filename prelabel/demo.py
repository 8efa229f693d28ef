"""``loupe demo``: a workspace with one generated project per modality, ingested.

One function with one step per stage, so later stages (prelabel, serve) add a step here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from learner.synthetic.audio import AUDIO_CLASSES, write_recordings
from learner.synthetic.crops import CROP_CLASSES, write_crop_store
from learner.synthetic.spectra import SPECTRUM_CLASSES, write_spectra
from prelabel.ingest import ingest
from store import catalog, schema
from store.engine import make_engine, safe_url, transaction
from store.errors import NotFoundError
from store.projects import create_project, get_project


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
    """Generate, migrate, create and ingest; every step is skipped when already done.

    Returns the workspace, the database and per-project counts.
    """
    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r}: choose one of {', '.join(SIZES)}")
    workspace = workspace.expanduser().resolve()
    folders = generate_data(workspace, SIZES[size], seed)
    schema.upgrade(database_url)
    engine = make_engine(database_url)
    create_projects(engine)
    counts = ingest_data(engine, folders)
    engine.dispose()
    return {"workspace": str(workspace), "database": safe_url(database_url), "projects": counts}


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


def ingest_data(engine: Engine, folders: dict[str, Path]) -> dict[str, dict]:
    counts = {}
    for name, folder in folders.items():
        ingest(engine, name, [folder], progress=True)
        with transaction(engine) as session:
            counts[name] = catalog.project_status(session, get_project(session, name).id)
    return counts
