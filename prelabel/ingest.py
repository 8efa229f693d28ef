"""The ingest job: walk files, register sources and items, import labels, record errors.

Each source is registered in its own transactions (a large one in batches), so a crash loses at
most the open batch; a source is marked complete at the end, and a rerun skips complete sources
and resumes incomplete ones without duplicates. Labels given with the data (a labels CSV, a crop
index) are added to complete sources too, so a rerun with a corrected file adds what it can.
What each modality reads lives in its module (``ingest_audio``, ``ingest_spectra``,
``ingest_crops``); how a run registers and counts, in ``ingest_run``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from learner.formats.errors import FormatError
from learner.formats.labels_csv import read_labels_csv
from learner.formats.paths import OutsideRootError, contained
from prelabel.ingest_audio import ingest_audio
from prelabel.ingest_crops import ingest_crops
from prelabel.ingest_run import IngestReport, IngestRun, sha256_of
from prelabel.ingest_spectra import ingest_spectra
from prelabel.jobs import JobRecorder
from store.engine import transaction
from store.jobs import DEFAULT_STALE_AFTER_S
from store.models import Project
from store.projects import IMPORT_USER, ensure_user, get_project

__all__ = ["IngestReport", "ingest", "sha256_of"]

_BY_MODALITY = {"audio": ingest_audio, "spectrum": ingest_spectra, "crop": ingest_crops}


def ingest(
    engine: Engine,
    project_name: str,
    paths: Sequence[Path],
    *,
    labels_csv: Path | None = None,
    batch_size: int = 5000,
    progress: bool = True,
    derived_dir: Path = Path("loupe-derived"),
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    media_roots: Sequence[Path] = (),
) -> IngestReport:
    """Ingest files and folders (recursively) into a project.

    ``labels_csv`` (spectrum and crop projects) names files relative to its own folder; rows
    that match no file of the run are reported in ``labels_unmatched`` and as ingest errors.
    The job row takes over the project's killed ingest jobs: ``stale_after_s`` is the stale
    threshold of job heartbeats (the ``job_stale_after_s`` setting).

    Every path the run follows — a file found in a folder (through symlinks too), a store
    named by an index CSV, a file named by the labels CSV, a label track beside a recording —
    must resolve inside the folder it was found in or named from, or inside one of
    ``media_roots`` (the ``media_roots`` setting); one that does not is an ingest error of its
    file and line, and the run goes on (:func:`learner.formats.paths.contained`).

    Raises
    ------
    store.errors.NotFoundError
        The project does not exist.
    FormatError
        The labels CSV cannot be read at all, or is given for an audio project (whose labels
        come from the label tracks beside the recordings).
    """
    report = IngestReport()
    with transaction(engine) as session:
        project: Project = get_project(session, project_name)
        user = ensure_user(session, IMPORT_USER, role="admin")
        run = IngestRun(
            engine=engine,
            project_id=project.id,
            modality=project.modality,
            classes=list(project.classes),
            settings=dict(project.settings),
            import_user_id=user.id,
            batch_size=batch_size,
            report=report,
            labels=None,
            progress=progress,
            derived_dir=derived_dir.expanduser().resolve() / project.name,
            media_roots=tuple(media_roots),
        )
    if labels_csv is not None and project.modality == "audio":
        raise FormatError(
            "an audio project takes its labels from the Audacity or Raven file beside each "
            "recording, not from a labels CSV"
        )
    job = JobRecorder.start(
        engine,
        project.id,
        "ingest",
        {"paths": [str(p) for p in paths]},
        stale_after_s=stale_after_s,
    )
    report.job_id = job.id
    try:
        files = _expand(run, paths)
        if labels_csv is not None:
            roots = sorted({root for _, root in files}) + list(run.media_roots)
            run.labels = read_labels_csv(labels_csv, roots)
            for line, reason in run.labels.errors:
                run.error_now(run.labels.path, reason, f"line {line}")
        _BY_MODALITY[project.modality](run, files, job)
        _report_unmatched(run)
    except BaseException as e:
        job.fail(e)
        raise
    job.finish(report.as_dict() | {"errors": len(report.errors)})
    return report


def _expand(run: IngestRun, paths: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Every file under ``paths`` as ``(file, root it was found under)``, resolved, sorted,
    once; a path that does not exist is a failed input, and a file found in a folder that
    resolves outside it (a symlink out) and outside the media roots is a failed file."""
    seen: set[Path] = set()
    files: list[tuple[Path, Path]] = []
    for given in paths:
        path = given.expanduser().resolve()
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file()):
                try:
                    file = contained(found, (path, *run.media_roots))
                except OutsideRootError as e:
                    run.failed(found, e.reason)
                    continue
                if file not in seen:
                    seen.add(file)
                    files.append((file, path))
        elif path.is_file():
            if path not in seen:
                seen.add(path)
                files.append((path, path.parent))
        else:
            run.failed(given, "no such file or folder")
    return files


def _report_unmatched(run: IngestRun) -> None:
    """Rows of the labels CSV that no file of the run asked for: counted, named, recorded."""
    if run.labels is None:
        return
    folder = run.labels.path.parent
    for row in run.labels.unmatched():
        run.report.labels_unmatched.append(
            {"line": row.line, "file": row.file, "column": row.column}
        )
        run.error_now(
            run.labels.path,
            f"{row.file}{f' column {row.column}' if row.column else ''} matches no ingested "
            f"file (names resolve relative to {folder})",
            f"line {row.line}",
        )
