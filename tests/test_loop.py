"""The whole loop, per modality, through the command line: a first model from imported labels,
prelabel, a simulated annotator answering from ground truth on the leased queue (a share of its
picks from the random audit stream), then ``loupe loop --pseudo-labels``. The second model
version must be trained on a snapshot that holds the simulated annotations and pseudo-labels
from the first version, all with their provenance, and the job row must tell each step."""

from __future__ import annotations

import csv
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from learner.formats.audio import read_label_file
from learner.synthetic import write_crop_store, write_recordings, write_spectra
from loupe.cli import app
from store.annotations import Action, record
from store.engine import make_engine, transaction
from store.models import Annotation, Job, ModelVersion, Project, Snapshot, Suggestion, User
from store.projects import ensure_user, get_project
from store.queue import QueueItem, next_items
from store.snapshots import snapshot_entries

runner = CliRunner()
FIXED = ("--device", "cpu", "--quiet")
ANNOTATOR = "sim"


@pytest.fixture
def seeded_random():  # type: ignore[no-untyped-def]
    """Items draw their random keys (hence the audit picks) from Python's ``random``: seed it
    for the test and give the rest of the run its state back."""
    state = random.getstate()
    random.seed(0)
    yield
    random.setstate(state)


def loupe(db_url: str, *args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--db", db_url, "--json"])
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    return result.exit_code, json.loads(lines[-1])


# --- generated projects with their ground truth ----------------------------------------------


@dataclass
class Case:
    modality: str
    classes: list[str]
    truth: Callable[[QueueItem], str | None]
    """The right answer for an item on screen; ``None``: no such event (reject)."""
    labels_csv: Path | None
    annotate: int
    audit_share: float
    training: tuple[str, ...]
    """Options of ``loupe loop`` that train this modality's small model well enough."""
    label_review: str = "--no-label-review"
    settings: dict | None = None


def crop_case(folder: Path) -> Case:
    store, index = write_crop_store(folder / "data", 900, seed=7, labelled_fraction=0.25)
    _, full = write_crop_store(folder / "truth", 900, seed=7)
    with full.open() as f:
        truth = {(r["dataset_name"], int(r["index"])): r["label"] for r in csv.DictReader(f)}
    return Case(
        "crop",
        ["small_spatter", "large_spatter"],
        lambda item: truth[(item.member, item.position)],
        None,
        annotate=160,
        audit_share=0.5,
        training=("--arch", "lenet5", "--epochs", "8", "--min-epochs", "8"),
        label_review="--label-review",
    )


def spectrum_case(folder: Path) -> Case:
    data = folder / "data"
    truth = {}
    for path in write_spectra(folder / "generated", 240, seed=7):
        # names without the sta-/wea- prefix, so only the labels CSV labels anything
        label = "weathered" if path.name.startswith("wea") else "stable"
        data.mkdir(exist_ok=True)
        target = data / f"s{path.name[4:]}"
        shutil.move(path, target)
        truth[str(target.resolve())] = label
    names = sorted(truth)
    (folder / "labels.csv").write_text(
        "file,label\n" + "".join(f"{name},{truth[name]}\n" for i, name in enumerate(names) if i % 2)
    )
    return Case(
        "spectrum",
        ["stable", "weathered"],
        lambda item: truth[str(Path(item.source_uri).resolve())],
        folder / "labels.csv",
        annotate=90,
        audit_share=0.8,
        training=(
            "--arch",
            "figure2",
            "--epochs",
            "15",
            "--min-epochs",
            "15",
            "--batch-size",
            "16",
        ),
    )


def audio_case(folder: Path) -> Case:
    data, held = folder / "data", folder / "truth"
    held.mkdir(parents=True)
    paths = write_recordings(data, 34, seed=7, duration_s=8.0, events_per_recording=(5, 8))
    events: dict[str, list] = {}
    for n, wav in enumerate(paths):
        labels = wav.with_suffix(".txt")
        events[str(wav.resolve())] = read_label_file(labels)
        if n >= 10:  # the later recordings come unlabelled: the detector proposes their events
            labels.rename(held / labels.name)

    def truth(item: QueueItem) -> str | None:
        best, overlap = None, 0.0
        for span in events[str(Path(item.source_uri).resolve())]:
            shared = min(span.end_s, item.end_s) - max(span.start_s, item.start_s)
            if shared > overlap:
                best, overlap = span.label, shared
        return best if overlap > 0.3 * (item.end_s - item.start_s) else None

    return Case(
        "audio",
        ["single_burst", "multiple_burst", "harmonic"],
        truth,
        None,
        annotate=100,
        audit_share=1.0,
        training=("--arch", "cnn", "--epochs", "20", "--min-epochs", "20", "--batch-size", "16"),
        # the finch-tuned detector splits a burst train into its clicks; these recordings want
        # a lower threshold and gaps inside a train merged
        settings={
            "detector": {
                "merge_gap_s": 0.25,
                "threshold_high": 6.0,
                "threshold_low": 3.0,
                "f_low_hz": 200.0,
            }
        },
    )


CASES = {"crop": crop_case, "spectrum": spectrum_case, "audio": audio_case}


def simulate_annotator(engine, project_name: str, case: Case) -> dict[int, int]:
    """Label ``case.annotate`` items from the queue as the truth says; returns annotation id
    per item for the labelled (not rejected) ones."""
    rng = random.Random(0)
    labelled: dict[int, int] = {}
    done = 0
    while done < case.annotate:
        with transaction(engine) as session:
            project = get_project(session, project_name)
            user = ensure_user(session, ANNOTATOR)
            items = next_items(
                session, project.id, user.id, k=20, audit_share=case.audit_share, rng=rng
            )
            if not items:
                break
            actions = []
            for item in items:
                answer = case.truth(item)
                verb = "accept" if answer == item.label else "edit"
                if answer is None:
                    verb = "reject"
                actions.append(
                    Action(
                        item.item_id,
                        verb,
                        answer,
                        item.start_s,
                        item.end_s,
                        item.suggestion_id,
                        item.model_version_id,
                        duration_s=1.0,
                    )
                )
            ids = record(session, project, user, actions)
            for action, annotation_id in zip(actions, ids, strict=True):
                if action.action != "reject":
                    labelled[action.item_id] = annotation_id
            done += len(items)
    return labelled


# --- the test ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("modality", "db_url"),
    # every modality on SQLite; the store's other dialect once, with crops (the fastest case)
    [(modality, "sqlite") for modality in sorted(CASES)]
    + [pytest.param("crop", "postgresql", marks=pytest.mark.postgres)],
    indirect=["db_url"],
)
def test_loop_trains_on_annotations_and_pseudo_labels(
    db_url, tmp_path, monkeypatch, seeded_random, modality
) -> None:
    monkeypatch.setenv("LOUPE_MODELS_DIR", str(tmp_path / "models"))
    case = CASES[modality](tmp_path)
    name = f"loop-{modality}"
    code, _ = loupe(
        db_url,
        "project",
        "create",
        name,
        "--modality",
        modality,
        "--classes",
        ",".join(case.classes),
    )
    assert code == 0
    engine = make_engine(db_url)
    if case.settings:
        with transaction(engine) as session:
            project = get_project(session, name)
            project.settings = dict(project.settings) | case.settings
    ingest = ["ingest", name, str(tmp_path / "data"), "--quiet"]
    if case.labels_csv:
        ingest += ["--labels", str(case.labels_csv)]
    code, ingested = loupe(db_url, *ingest)
    assert code == 0 and ingested["labels_imported"] > 0

    # a first model from the imported labels: no active version, so no pseudo-labels yet
    training = (*case.training, *FIXED)
    code, first = loupe(db_url, "loop", name, "--pseudo-labels", "--no-label-review", *training)
    assert code == 0 and first["decision"] == "promoted", first
    assert first["snapshot"]["pseudo"] == 0 and first["suggestions"] > 0
    assert "no active model version" in first["steps"]["snapshot"]["note"]
    v1 = first["model_version"]

    labelled = simulate_annotator(engine, name, case)
    assert len(labelled) > 0.5 * case.annotate

    code, second = loupe(
        db_url,
        "loop",
        name,
        "--pseudo-labels",
        "--target-error",
        "0.3",
        case.label_review,
        *training,
    )
    assert code in (0, 3, 4), second
    v2 = second["model_version"]
    with transaction(engine) as session:
        version = session.get(ModelVersion, v2)
        snapshot = session.get(Snapshot, version.snapshot_id)
        entries = snapshot_entries(session, snapshot.id)
        sim = session.scalar(select(User.id).where(User.name == ANNOTATOR))
        authors = dict(
            session.execute(
                select(Annotation.id, Annotation.user_id).where(
                    Annotation.id.in_(list(labelled.values()))
                )
            ).all()
        )
        audited = session.scalar(
            select(Annotation.id).where(Annotation.audit.is_(True), Annotation.user_id == sim)
        )
        v1_suggestions = dict(
            session.execute(
                select(Suggestion.id, Suggestion.item_id).where(Suggestion.model_version_id == v1)
            ).all()
        )
        job = session.get(Job, second["job_id"])
        v2_suggestions = session.scalar(
            select(Suggestion.id).where(Suggestion.model_version_id == v2).limit(1)
        )
        active = session.scalar(
            select(ModelVersion.id).where(
                ModelVersion.project_id
                == session.scalar(select(Project.id).where(Project.name == name)),
                ModelVersion.status == "active",
            )
        )
    engine.dispose()
    assert audited is not None  # some picks came from the audit stream

    # the simulated annotations, with their provenance
    human = {e.item_id: e for e in entries if e.origin == "human"}
    assert set(labelled) <= set(human)
    assert all(human[item].annotation_id == labelled[item] for item in labelled)
    assert {authors[a] for a in labelled.values()} == {sim}

    # pseudo-labels from version 1's suggestions, in train only, never on a human-labelled item
    pseudo = [e for e in entries if e.origin == "pseudo"]
    assert pseudo, snapshot.pseudo["note"]
    assert all(e.split == "train" and e.annotation_id is None for e in pseudo)
    assert all(v1_suggestions[e.suggestion_id] == e.item_id for e in pseudo)
    assert not {e.item_id for e in pseudo} & set(human)
    assert {e.split for e in entries if e.split != "train"} and all(
        e.origin == "human" for e in entries if e.split != "train"
    )

    # the snapshot's record of how they were chosen
    record_ = snapshot.pseudo
    assert snapshot.pseudo_model_version_id == v1 and record_["model_version"] == v1
    assert set(record_["thresholds"]) == set(case.classes)
    assert snapshot.pseudo_threshold == min(t for t in record_["thresholds"].values() if t)
    assert 0.0 < record_["coverage"] <= 1.0 and record_["accepted"] == len(pseudo)
    assert record_["estimated_precision"] >= 0.7 and record_["audit_size"] > 0
    assert second["snapshot"]["pseudo"] == len(pseudo) and second["pseudo"] == record_

    # the job row, step by step
    assert (job.kind, job.status, job.error) == ("loop", "done", None)
    assert list(job.result["steps"]) == [
        "snapshot",
        "train",
        "evaluate",
        "label_review",
        "gate",
        "prelabel",
    ]
    assert job.result["model_version"] == v2 and job.params["pseudo_labels"] is True
    review = job.result["steps"]["label_review"]
    if case.label_review == "--label-review":
        assert second["label_issues"] == review["issues_found"] >= 0
        assert review["items_checked"] > 0 and review["model_version"] == v2
    else:
        assert second["label_issues"] is None and "turned off" in review["skipped"]

    # prelabel ran with version 2 exactly when the gate let it through
    if second["decision"] == "promoted":
        assert active == v2 and v2_suggestions is not None and second["suggestions"] > 0
        assert job.result["steps"]["prelabel"]["model_version"] == v2
    else:
        assert active == v1 and v2_suggestions is None
        assert "not promoted" in job.result["steps"]["prelabel"]["skipped"]


def test_a_failed_step_fails_the_job_and_says_which(db_url, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LOUPE_MODELS_DIR", str(tmp_path / "models"))
    loupe(db_url, "project", "create", "empty", "--modality", "crop", "--classes", "a,b")
    result = runner.invoke(app, ["loop", "empty", "--db", db_url, "--json", "--quiet"])
    failure = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.exit_code == 1
    assert failure["step"] == "snapshot" and "nothing to snapshot" in failure["error"]
    assert "loop job" in result.stderr and "'snapshot' failed" in result.stderr
    engine = make_engine(db_url)
    with transaction(engine) as session:
        job = session.get(Job, failure["job_id"])
        assert (job.kind, job.status) == ("loop", "failed")
        assert "loop step 'snapshot' failed: nothing to snapshot" in job.error
    engine.dispose()


def test_loop_of_an_unknown_project_is_rejected(db_url) -> None:
    code, result = loupe(db_url, "loop", "ghost", "--quiet")
    assert code == 2 and "no project named 'ghost'" in result["error"]


def test_loop_options_flags_beat_project_settings_beat_global(engine, make_project) -> None:
    from prelabel.loop import configure_loop, loop_options
    from store.settings import Settings

    make_project("p", "crop", ["a", "b"])
    with transaction(engine) as session:
        project = get_project(session, "p")
        stored = configure_loop(
            session, project, {"pseudo_labels": True, "target_error": 0.05, "after_annotations": 9}
        )
        settings = Settings.model_construct()
        options = loop_options(project, settings)
        flagged = loop_options(project, settings, pseudo_labels=False, target_error=None)
        cleared = configure_loop(session, project, {"target_error": None})
    assert stored == {"after_annotations": 9, "pseudo_labels": True, "target_error": 0.05}
    assert (options.pseudo_labels, options.target_error) == (True, 0.05)
    assert (flagged.pseudo_labels, flagged.target_error) == (False, 0.05)
    assert cleared == {"after_annotations": 9, "pseudo_labels": True}


def test_bad_loop_settings_are_rejected(db_url) -> None:
    loupe(db_url, "project", "create", "p", "--modality", "crop", "--classes", "a,b")
    code, result = loupe(db_url, "project", "loop", "p", "--target-error", "1.5")
    assert code == 2 and "bad loop settings: target_error" in result["error"]
    code, result = loupe(db_url, "project", "loop", "p", "--after-annotations", "50")
    assert code == 0 and result["loop"] == {"after_annotations": 50}
    code, result = loupe(db_url, "project", "loop", "p", "--reset")
    assert code == 0 and result["loop"] == {}
