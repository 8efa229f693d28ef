"""``loupe loop``: one turn of the active-learning loop, recorded as a job of kind ``loop``.

snapshot (human labels, plus pseudo-labels from the active version if enabled) → train →
evaluate (test metrics, temperature) → label review (out-of-fold, if enabled) → gate (promote if
good enough) → prelabel with the new version if it became active. Each step's result is written
to the job row as soon as the step ends; a step that fails fails the job with the step's name and
reason, and the steps after it do not run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from learner.pseudo import DEFAULT_TARGET_ERROR
from learner.training import TrainConfig
from prelabel.evaluate import evaluate_version, promote_version
from prelabel.jobs import JobRecorder
from prelabel.label_review import find_label_issues_for, review_is_worthwhile
from prelabel.prelabel import run_prelabel
from prelabel.pseudo_labels import create_pseudo_snapshot
from prelabel.train import train_model
from store.engine import transaction
from store.jobs import DEFAULT_STALE_AFTER_S
from store.models import Project
from store.projects import get_project
from store.queue import active_version
from store.settings import LoopSettings, Settings, loop_settings
from store.snapshots import create_snapshot, snapshot_entries

STEPS = ("snapshot", "train", "evaluate", "label_review", "gate", "prelabel")


@dataclass(frozen=True)
class LoopOptions:
    """How one turn of the loop runs."""

    pseudo_labels: bool = False
    target_error: float = DEFAULT_TARGET_ERROR
    cap_per_class: int | None = None
    label_review: bool | None = None
    """``None``: review when every class has enough human labels and the new version is good
    enough to judge them (see :func:`prelabel.label_review.review_is_worthwhile`)."""
    review_folds: int = 3
    min_macro_f1: float = 0.0
    vs_active: bool = True
    train: TrainConfig = field(default_factory=lambda: TrainConfig(arch=""))
    """``arch`` empty: the active version's architecture, else the modality's default."""
    prelabel_batch_size: int = 1024

    def as_dict(self) -> dict:
        return asdict(self)


def loop_options(project: Project, settings: Settings, **flags: object) -> LoopOptions:
    """Options for a project: a flag given (not ``None``) beats the project's own loop settings,
    which beat the global ones.

    Raises
    ------
    store.errors.ValidationError
        The project's loop settings are malformed.
    """
    own = loop_settings(project.settings)
    base = LoopOptions(
        pseudo_labels=settings.loop_pseudo_labels,
        target_error=settings.pseudo_target_error,
    )
    stored = {k: v for k, v in own.model_dump().items() if v is not None and hasattr(base, k)}
    given = {k: v for k, v in flags.items() if v is not None}
    return replace(base, **(stored | given))


def configure_loop(session: Session, project: Project, changes: dict) -> dict:
    """Change the project's own loop settings (a value of ``None`` removes that setting).

    Returns the project's loop settings as now stored.

    Raises
    ------
    store.errors.ValidationError
        An unknown option or a value out of range.
    """
    current = dict(project.settings.get("loop") or {})
    for key, value in changes.items():
        if key not in LoopSettings.model_fields:
            current[key] = value  # let the check below name it
        elif value is None:
            current.pop(key, None)
        else:
            current[key] = value
    checked = loop_settings({"loop": current}).model_dump(exclude_none=True)
    project.settings = dict(project.settings) | {"loop": checked}
    session.flush()
    return checked


class LoopStepFailed(Exception):
    """A step of the loop failed; the job row says which and why."""

    def __init__(self, step: str, reason: BaseException, job_id: int, steps: dict) -> None:
        super().__init__(f"loop step {step!r} failed: {reason}")
        self.step, self.reason, self.job_id, self.steps = step, reason, job_id, steps


def _json_safe(value: object) -> object:
    """``value`` with NaN and infinities as ``None`` (PostgreSQL's JSON refuses them): a
    snapshot without val items trains with a NaN validation accuracy."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def run_loop(
    engine: Engine,
    project_name: str,
    options: LoopOptions | None = None,
    *,
    models_dir: Path,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> dict:
    """Run one turn of the loop for a project; returns the summary the job row also holds.

    ``stale_after_s`` is the stale threshold of job heartbeats (the ``job_stale_after_s``
    setting), for this job and its prelabel step.

    ``report`` receives one line per finished step. The summary's ``exit_code`` is the gate's:
    0 promoted, 3 below the macro-F1 threshold, 4 worse than the active version.

    Raises
    ------
    store.errors.NotFoundError
        No such project (before any job is recorded).
    LoopStepFailed
        A step failed; the job is marked failed with the step and reason.
    """
    options = options or LoopOptions()
    with transaction(engine) as session:
        project = get_project(session, project_name)
        active = active_version(session, project.id)
        project_id, active_id = project.id, active.id if active else None
        active_arch = active.arch if active else ""
    train_config = options.train
    if not train_config.arch and active_arch:
        train_config = replace(train_config, arch=active_arch)
    job = JobRecorder.start(
        engine,
        project_id,
        "loop",
        options.as_dict() | {"train": train_config.as_dict(), "active_version": active_id},
        stale_after_s=stale_after_s,
    )
    job.total(len(STEPS))
    steps: dict[str, dict] = {}

    def step(name: str, run: Callable[[], dict], line: Callable[[dict], str]) -> dict:
        started = time.perf_counter()
        try:
            result = run() | {"seconds": round(time.perf_counter() - started, 3)}
            steps[name] = _json_safe(result)
        except BaseException as e:
            failure = LoopStepFailed(name, e, job.id, steps)
            job.fail(failure)
            if not isinstance(e, Exception):  # an interrupt: the job row is failed, then leave
                raise
            raise failure from e
        job.save(done=len(steps), result={"steps": steps})
        if report is not None:
            report(f"[{len(steps)}/{len(STEPS)}] {name}: {line(steps[name])}")
        return steps[name]

    snap = step(
        "snapshot", lambda: _snapshot(engine, project_name, options, active_id), _snapshot_line
    )
    trained = step(
        "train",
        lambda: train_model(
            engine,
            project_name,
            str(snap["id"]),
            train_config,
            models_dir=models_dir,
            progress=progress,
        ),
        lambda r: (
            f"model version {r['model_version']} ({r['arch']}), best epoch {r['best_epoch']}"
            + ("" if r["val_accuracy"] is None else f", val accuracy {r['val_accuracy']:.3f}")
        ),
    )
    version_id = trained["model_version"]
    step(
        "evaluate",
        lambda: _evaluation(evaluate_version(engine, version_id)),
        lambda r: (
            f"test macro-F1 {r['macro_f1']:.3f}, accuracy {r['accuracy']:.3f} on "
            f"{r['test_items']} items"
        ),
    )
    step(
        "label_review",
        lambda: _review(
            engine,
            project_name,
            version_id,
            snap["id"],
            steps["evaluate"]["macro_f1"],
            options,
            progress,
        ),
        lambda r: (
            f"skipped: {r['skipped']}"
            if "skipped" in r
            else f"{r['issues_found']} label issues among {r['items_checked']} human labels "
            f"({r['issues_added']} new)"
        ),
    )
    gate = step(
        "gate",
        lambda: promote_version(
            engine, version_id, min_macro_f1=options.min_macro_f1, vs_active=options.vs_active
        ),
        lambda r: f"{r['decision']} (macro-F1 {r['macro_f1']:.3f})",
    )
    step(
        "prelabel",
        lambda: (
            _prelabel(engine, project_name, version_id, options, progress, stale_after_s)
            if gate["decision"] == "promoted"
            else {"skipped": f"the new version was not promoted ({gate['decision']})"}
        ),
        lambda r: (
            f"skipped: {r['skipped']}"
            if "skipped" in r
            else f"{r['suggestions']} suggestions from model version {r['model_version']}"
        ),
    )
    summary = _summary(project_name, job.id, steps)
    job.done = len(STEPS)
    job.finish(summary)
    return summary


def _snapshot(
    engine: Engine, project_name: str, options: LoopOptions, active_id: int | None
) -> dict:
    with transaction(engine) as session:
        project = get_project(session, project_name)
        note = None
        if options.pseudo_labels and active_id is not None:
            snap = create_pseudo_snapshot(
                session,
                project,
                version_id=active_id,
                target_error=options.target_error,
                cap_per_class=options.cap_per_class,
            )
            note = snap.pseudo.get("note") if snap.pseudo else None
        else:
            snap = create_snapshot(session, project.id)
            if options.pseudo_labels:
                note = "no pseudo-labels: the project has no active model version yet"
        return {
            "id": snap.id,
            "name": snap.name,
            "sha256": snap.manifest_sha256,
            "entries": snap.counts["entries"],
            "by_origin": snap.counts["by_origin"],
            "by_split": snap.counts["by_split"],
            "pseudo": snap.pseudo,
            "pseudo_threshold": snap.pseudo_threshold,
            "pseudo_model_version_id": snap.pseudo_model_version_id,
            "note": note,
        }


def _snapshot_line(r: dict) -> str:
    origins = ", ".join(f"{n} {origin}" for origin, n in sorted(r["by_origin"].items()))
    line = f"{r['name']} with {r['entries']} entries ({origins})"
    return f"{line}; {r['note']}" if r["note"] else line


def _evaluation(report: dict) -> dict:
    keys = (
        "macro_f1",
        "accuracy",
        "ece",
        "ece_calibrated",
        "temperature",
        "test_items",
        "val_items",
        "report_dir",
    )
    return {k: report[k] for k in keys if k in report}


def _review(
    engine: Engine,
    project_name: str,
    version_id: int,
    snapshot_id: int,
    macro_f1: float,
    options: LoopOptions,
    progress: bool,
) -> dict:
    if options.label_review is False:
        return {"skipped": "label review is turned off"}
    if options.label_review is None:
        with transaction(engine) as session:
            project = get_project(session, project_name)
            entries = snapshot_entries(session, snapshot_id)
            worthwhile, reason = review_is_worthwhile(entries, list(project.classes), macro_f1)
        if not worthwhile:
            return {"skipped": reason}
    return find_label_issues_for(
        engine, project_name, version_id, folds=options.review_folds, progress=progress
    )


def _prelabel(
    engine: Engine,
    project_name: str,
    version_id: int,
    options: LoopOptions,
    progress: bool,
    stale_after_s: float,
) -> dict:
    return run_prelabel(
        engine,
        project_name,
        version_id=version_id,
        batch_size=options.prelabel_batch_size,
        device=options.train.device,
        progress=progress,
        stale_after_s=stale_after_s,
    )


def _summary(project_name: str, job_id: int, steps: dict) -> dict:
    snap, gate = steps["snapshot"], steps["gate"]
    review, prelabel = steps["label_review"], steps["prelabel"]
    return {
        "project": project_name,
        "job_id": job_id,
        "snapshot": {
            "id": snap["id"],
            "name": snap["name"],
            "entries": snap["entries"],
            "human": snap["by_origin"].get("human", 0),
            "pseudo": snap["by_origin"].get("pseudo", 0),
        },
        "pseudo": snap["pseudo"],
        "model_version": steps["train"]["model_version"],
        "macro_f1": steps["evaluate"]["macro_f1"],
        "decision": gate["decision"],
        "exit_code": gate["exit_code"],
        "suggestions": prelabel.get("suggestions", 0),
        "label_issues": review.get("issues_found"),
        "steps": steps,
    }
