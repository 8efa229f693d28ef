"""Ingest of spectra: one source per file, one item per spectrum (a column of a matrix),
labelled from the labels CSV or the project's file-name prefixes."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from learner.formats import spectra
from learner.formats.content import spectrum_content_problem
from learner.formats.errors import FormatError
from prelabel.ingest_run import IngestRun
from prelabel.jobs import JobRecorder
from store.catalog import ImportedLabel, ItemRow
from store.engine import transaction


def ingest_spectra(run: IngestRun, files: list[tuple[Path, Path]], job: JobRecorder) -> None:
    labels_path = run.labels.path if run.labels else None
    candidates = []
    for path, _ in files:
        if path == labels_path:
            run.outcome(path, "label")
        elif path.suffix.lower() in spectra.SPECTRUM_SUFFIXES:
            candidates.append(path)
        else:
            run.outcome(path, "ignored")
    job.total(len(candidates))
    for path in tqdm(candidates, unit="file", desc="spectra", disable=not run.progress):
        _ingest_spectrum_file(run, path)
        job.advance(1)


def _ingest_spectrum_file(run: IngestRun, path: Path) -> None:
    try:
        problem = spectrum_content_problem(path)
        if problem is not None:
            raise FormatError(problem)
        table = spectra.read_spectrum_table(path)
    except FormatError as e:
        run.failed(path, e.reason, e.member)
        return
    for e in table.errors:
        run.error_now(path, e.reason, e.member)
    if not table.columns:
        run.outcome(path, "failed")
        return
    axis = table.columns[0].axis
    meta = {
        "points": len(axis),
        "axis_min": float(axis[0]),
        "axis_max": float(axis[-1]),
        "spectra": len(table.columns),
        "skipped_empty_columns": table.skipped_empty,
    }
    kind = "spectrum_matrix" if table.is_matrix else "spectrum"
    source, fresh = run.open_source(path, kind, meta)
    items, labels = [], []
    with transaction(run.engine) as session:
        for column in table.columns:
            member = column.name if table.is_matrix else None
            row = ItemRow(f"column:{column.position}", member, column.position)
            items.append(row)
            label = _spectrum_label(run, path, column.name if table.is_matrix else None)
            where = f"column {column.position + 1} ({column.name})" if table.is_matrix else None
            if label and run.check_label(session, path, label, where):
                labels.append(ImportedLabel(row.locator, label))
    run.register(source, items, labels, fresh=fresh)


def _spectrum_label(run: IngestRun, path: Path, column: str | None) -> str | None:
    if run.labels is not None:
        label = run.labels.label_for(path, column)
        if label is not None:
            return label
    for prefix, label in run.settings.get("label_prefixes", {}).items():
        if path.name.startswith(prefix):
            return label
    return None
