"""The ingest job: walk files, register sources and items, import labels, record errors.

Each source is registered in its own transactions (a large one in batches), so a crash loses at
most the open batch; a source is marked complete at the end, and a rerun skips complete sources
and resumes incomplete ones without duplicates.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tqdm import tqdm

from learner.formats import audio, crops, spectra
from learner.formats.errors import FormatError
from learner.formats.labels_csv import LabelsCsv, read_labels_csv
from prelabel.jobs import JobRecorder
from store import catalog
from store.catalog import ImportedLabel, ItemRow
from store.engine import transaction
from store.models import Project, Source
from store.projects import IMPORT_USER, ensure_user, get_project


@dataclass
class IngestReport:
    """What an ingest run did; ``errors`` holds ``(path, member, reason)``."""

    files_seen: int = 0
    sources_added: int = 0
    sources_already_ingested: int = 0
    items_added: int = 0
    labels_imported: int = 0
    files_ignored: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """``(path, source it repeats)``: files whose bytes are already a source of the project."""
    errors: list[tuple[str, str | None, str]] = field(default_factory=list)
    job_id: int | None = None

    @property
    def ingested_anything(self) -> bool:
        return self.sources_added + self.sources_already_ingested > 0

    def as_dict(self) -> dict:
        return {
            "job_id": self.job_id,
            "files_seen": self.files_seen,
            "sources_added": self.sources_added,
            "sources_already_ingested": self.sources_already_ingested,
            "items_added": self.items_added,
            "labels_imported": self.labels_imported,
            "files_ignored": self.files_ignored,
            "duplicates": [{"path": p, "same_as": s} for p, s in self.duplicates],
            "ingest_errors": len(self.errors),
            "errors": [{"path": p, "member": m, "reason": r} for p, m, r in self.errors],
        }


@dataclass
class _Context:
    engine: Engine
    project_id: int
    modality: str
    classes: list[str]
    settings: dict
    import_user_id: int
    batch_size: int
    report: IngestReport
    labels: LabelsCsv | None
    progress: bool
    derived_dir: Path

    def error(
        self, session: Session, path: Path | str, reason: str, member: str | None = None
    ) -> None:
        catalog.record_ingest_error(session, self.project_id, str(path), reason, member=member)
        self.report.errors.append((str(path), member, reason))

    def error_now(self, path: Path | str, reason: str, member: str | None = None) -> None:
        with transaction(self.engine) as session:
            self.error(session, path, reason, member)

    def check_label(self, session: Session, path: Path, label: str, member: str | None) -> bool:
        if label in self.classes:
            return True
        self.error(
            session,
            path,
            f"unknown class {label!r} (project classes: {', '.join(self.classes)})",
            member,
        )
        return False


def ingest(
    engine: Engine,
    project_name: str,
    paths: Sequence[Path],
    *,
    labels_csv: Path | None = None,
    batch_size: int = 5000,
    progress: bool = True,
    derived_dir: Path = Path("loupe-derived"),
) -> IngestReport:
    """Ingest files and folders (recursively) into a project.

    Raises
    ------
    store.errors.NotFoundError
        The project does not exist.
    FormatError
        The labels CSV cannot be read at all.
    """
    report = IngestReport()
    with transaction(engine) as session:
        project: Project = get_project(session, project_name)
        user = ensure_user(session, IMPORT_USER, role="admin")
        context = _Context(
            engine,
            project.id,
            project.modality,
            list(project.classes),
            dict(project.settings),
            user.id,
            batch_size,
            report,
            None,
            progress,
            derived_dir.expanduser().resolve() / project.name,
        )
    job = JobRecorder.start(engine, project.id, "ingest", {"paths": [str(p) for p in paths]})
    report.job_id = job.id
    try:
        if labels_csv is not None:
            context.labels = read_labels_csv(labels_csv)
            for line, reason in context.labels.errors:
                context.error_now(labels_csv, reason, f"line {line}")
        files = _expand(context, paths)
        report.files_seen = len(files)
        handler = {"audio": _ingest_audio, "spectrum": _ingest_spectra, "crop": _ingest_crops}
        handler[project.modality](context, files, job)
    except BaseException as e:
        job.fail(e)
        raise
    job.finish(report.as_dict() | {"errors": len(report.errors)})
    return report


def _expand(context: _Context, paths: Sequence[Path]) -> list[tuple[Path, Path]]:
    """Every file under ``paths`` as ``(file, root it was found under)``, sorted, once."""
    seen: set[Path] = set()
    files: list[tuple[Path, Path]] = []
    for given in paths:
        path = given.expanduser().resolve()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file())
            files.extend((f, path) for f in found if f not in seen and not seen.add(f))
        elif path.is_file():
            if path not in seen:
                seen.add(path)
                files.append((path, path.parent))
        else:
            context.error_now(given, "no such file or folder")
    return files


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest(), path.stat().st_size


def _open_source(
    context: _Context, path: Path, kind: str, meta: dict
) -> tuple[Source | None, bool]:
    """The source for ``path``: ``(source, True)`` when new or incomplete, ``(None, False)``
    when it is already fully ingested."""
    digest, size = sha256_of(path)
    with transaction(context.engine) as session:
        source = catalog.find_source(session, context.project_id, digest)
        if source is not None and source.complete:
            context.report.sources_already_ingested += 1
            if source.uri != str(path):
                context.report.duplicates.append((str(path), source.uri))
            return None, False
        if source is None:
            source = catalog.add_source(
                session, context.project_id, str(path), kind, digest, size, meta
            )
            context.report.sources_added += 1
        return source, True


def _register(
    context: _Context,
    source: Source,
    items: Sequence[ItemRow],
    labels: Sequence[ImportedLabel],
    *,
    bar: tqdm | None = None,
) -> None:
    """Register items and labels in batches, each its own transaction, then mark complete."""
    by_locator: dict[str, list[ImportedLabel]] = defaultdict(list)
    for label in labels:
        by_locator[label.locator].append(label)
    size = context.batch_size
    for start in range(0, max(len(items), 1), size):
        batch = items[start : start + size]
        with transaction(context.engine) as session:
            context.report.items_added += catalog.insert_items(session, source, batch)
            batch_labels = (
                [lab for row in batch for lab in by_locator.get(row.locator, ())]
                if by_locator
                else []
            )
            context.report.labels_imported += catalog.add_imported_labels(
                session, source.id, context.import_user_id, batch_labels
            )
        if bar is not None:
            bar.update(len(batch))
    with transaction(context.engine) as session:
        catalog.mark_complete(session, source.id)


def _progress(context: _Context, total: int, unit: str, desc: str) -> tqdm:
    return tqdm(total=total, unit=unit, desc=desc, disable=not context.progress, leave=False)


# --- audio --------------------------------------------------------------------------------


def _ingest_audio(context: _Context, files: list[tuple[Path, Path]], job: JobRecorder) -> None:
    recordings = [f for f, _ in files if f.suffix.lower() in audio.AUDIO_SUFFIXES]
    context.report.files_ignored = len(files) - len(recordings)
    job.total(len(recordings))
    for path in tqdm(recordings, unit="file", desc="audio", disable=not context.progress):
        _ingest_recording(context, path)
        job.advance(1)


def _ingest_recording(context: _Context, path: Path) -> None:
    try:
        info = audio.recording_info(path)
    except FormatError as e:
        context.error_now(path, e.reason, e.member)
        return
    label_file = audio.find_label_file(path)
    meta = {
        "sample_rate": info.sample_rate,
        "frames": info.frames,
        "channels": info.channels,
        "duration_s": info.duration_s,
        "format": info.format,
        "label_file": str(label_file) if label_file else None,
    }
    source, fresh = _open_source(context, path, "recording", meta)
    if not fresh or source is None:
        return
    items: list[ItemRow] = []
    labels: list[ImportedLabel] = []
    with transaction(context.engine) as session:
        spans: list[audio.LabelSpan] = []
        if label_file is not None:
            try:
                spans = audio.read_label_file(label_file)
            except FormatError as e:
                context.error(session, label_file, e.reason, e.member)
        for span in spans:
            member = f"line {span.line}"
            try:
                audio.check_span(span, info.duration_s)
            except FormatError as e:
                context.error(session, label_file or path, e.reason, e.member)
                continue
            row = ItemRow(
                f"span:{span.start_s:.6f}-{span.end_s:.6f}",
                None,
                None,
                span.start_s,
                span.end_s,
                span.f_low_hz,
                span.f_high_hz,
            )
            items.append(row)
            if context.check_label(session, label_file or path, span.label, member):
                labels.append(
                    ImportedLabel(
                        row.locator,
                        span.label,
                        span.start_s,
                        span.end_s,
                        span.f_low_hz,
                        span.f_high_hz,
                    )
                )
    _register(context, source, _unique(items), labels)


def _unique(items: list[ItemRow]) -> list[ItemRow]:
    seen: set[str] = set()
    return [row for row in items if row.locator not in seen and not seen.add(row.locator)]


# --- spectra ------------------------------------------------------------------------------


def _ingest_spectra(context: _Context, files: list[tuple[Path, Path]], job: JobRecorder) -> None:
    labels_path = context.labels.path if context.labels else None
    candidates = [
        f for f, _ in files if f.suffix.lower() in spectra.SPECTRUM_SUFFIXES and f != labels_path
    ]
    context.report.files_ignored = len(files) - len(candidates)
    job.total(len(candidates))
    for path in tqdm(candidates, unit="file", desc="spectra", disable=not context.progress):
        _ingest_spectrum_file(context, path)
        job.advance(1)


def _ingest_spectrum_file(context: _Context, path: Path) -> None:
    try:
        table = spectra.read_spectrum_table(path)
    except (FormatError, OSError) as e:
        reason = e.reason if isinstance(e, FormatError) else str(e)
        context.error_now(path, reason, getattr(e, "member", None))
        return
    for e in table.errors:
        context.error_now(path, e.reason, e.member)
    if not table.columns:
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
    source, fresh = _open_source(context, path, kind, meta)
    if not fresh or source is None:
        return
    items, labels = [], []
    with transaction(context.engine) as session:
        for column in table.columns:
            member = column.name if table.is_matrix else None
            row = ItemRow(f"column:{column.position}", member, column.position)
            items.append(row)
            label = _spectrum_label(context, path, column.name if table.is_matrix else None)
            where = f"column {column.position + 1} ({column.name})" if table.is_matrix else None
            if label and context.check_label(session, path, label, where):
                labels.append(ImportedLabel(row.locator, label))
    _register(context, source, items, labels)


def _spectrum_label(context: _Context, path: Path, column: str | None) -> str | None:
    if context.labels is not None:
        label = context.labels.label_for(path, column)
        if label is not None:
            return label
    for prefix, label in context.settings.get("label_prefixes", {}).items():
        if path.name.startswith(prefix):
            return label
    return None


# --- crops --------------------------------------------------------------------------------


def _ingest_crops(context: _Context, files: list[tuple[Path, Path]], job: JobRecorder) -> None:
    stores = [f for f, _ in files if f.suffix.lower() in crops.HDF5_SUFFIXES]
    indexes = [f for f, _ in files if f.suffix.lower() == ".csv" and crops.is_crop_index(f)]
    images = [(f, root) for f, root in files if f.suffix.lower() in crops.IMAGE_SUFFIXES]
    videos = [f for f, _ in files if f.suffix.lower() in VIDEO_SUFFIXES]
    context.report.files_ignored = (
        len(files) - len(stores) - len(indexes) - len(images) - len(videos)
    )
    for video in videos:
        extracted = _extract_video(context, video)
        if extracted is not None:
            stores.append(extracted[0])
            indexes.append(extracted[1])
    index_rows: dict[Path, list[crops.IndexRow]] = defaultdict(list)
    for index in indexes:
        rows, errors = crops.read_crop_index(index)
        for e in errors:
            context.error_now(index, e.reason, e.member)
        for row in rows:
            index_rows[row.hdf5_file].append(row)
    known = set(stores)
    stores += sorted(p for p in index_rows if p not in known and p.is_file())
    for missing in sorted(set(index_rows) - set(stores)):
        first = index_rows[missing][0]
        context.error_now(
            first.hdf5_file, "named in an index CSV but not found", f"line {first.line}"
        )
    job.total(len(stores) + len(images))
    for path in stores:
        _ingest_crop_store(context, path, index_rows.get(path, []))
        job.advance(1)
    for path, root in tqdm(
        images, unit="file", desc="images", disable=not (context.progress and images)
    ):
        _ingest_image(context, path, root)
        job.advance(1)


VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v")


def _extract_video(context: _Context, video: Path) -> tuple[Path, Path] | None:
    """Spatter crops of a video, extracted once into the derived folder (keyed by the video's
    content hash) and ingested like any crop store. A video that stops early still gives the
    crops of the frames that could be read, and an ingest error saying where it stopped."""
    from learner.video import extract_crops

    digest, _ = sha256_of(video)
    out = context.derived_dir / f"{video.stem}-{digest[:12]}"
    done = out / "extracted.json"
    if not done.exists():
        try:
            result = extract_crops(video, out, progress=context.progress)
        except FormatError as e:
            context.error_now(video, e.reason, e.member)
            return None
        summary = {
            "video": str(video),
            "sha256": digest,
            "frames_read": result.frames_read,
            "frames_expected": result.frames_expected,
            "crops_kept": result.crops_kept,
            "crops_rejected_blue": result.crops_rejected_blue,
            "crops_rejected_area": result.crops_rejected_area,
            "error": result.error,
            "h5": result.h5_path.name,
            "index": result.index_path.name,
        }
        done.write_text(json.dumps(summary, indent=2))
    summary = json.loads(done.read_text())
    if summary["error"]:
        context.error_now(video, summary["error"])
    return out / summary["h5"], out / summary["index"]


def _ingest_crop_store(context: _Context, path: Path, index: list[crops.IndexRow]) -> None:
    try:
        datasets, errors = crops.list_crop_datasets(path)
    except FormatError as e:
        context.error_now(path, e.reason, e.member)
        return
    for e in errors:
        context.error_now(path, e.reason, e.member)
    if not datasets:
        if not errors:
            context.error_now(path, "no datasets of encoded images")
        return
    lengths = {d.name: d.length for d in datasets}
    meta = {"datasets": lengths, "crops": sum(lengths.values())}
    source, fresh = _open_source(context, path, "hdf5", meta)
    if not fresh or source is None:
        return
    items = [ItemRow(f"{d.name}[{i}]", d.name, i) for d in datasets for i in range(d.length)]
    labels = []
    with transaction(context.engine) as session:
        for row in index:
            where = f"line {row.line}"
            if row.dataset_name not in lengths:
                context.error(
                    session,
                    path,
                    f"index names dataset {row.dataset_name!r}, not in the file",
                    where,
                )
            elif not 0 <= row.index < lengths[row.dataset_name]:
                context.error(
                    session,
                    path,
                    f"index {row.index} is outside dataset {row.dataset_name!r} "
                    f"({lengths[row.dataset_name]} entries)",
                    where,
                )
            elif row.label and context.check_label(session, path, row.label, where):
                labels.append(ImportedLabel(f"{row.dataset_name}[{row.index}]", row.label))
    with _progress(context, len(items), "crop", path.name) as bar:
        _register(context, source, items, labels, bar=bar)


def _ingest_image(context: _Context, path: Path, root: Path) -> None:
    source, fresh = _open_source(context, path, "image", {"folder": str(root)})
    if not fresh or source is None:
        return
    label = crops.image_class(path, root)
    labels = []
    with transaction(context.engine) as session:
        if label and context.check_label(session, path, label, None):
            labels.append(ImportedLabel("image", label))
    _register(context, source, [ItemRow("image", path.name)], labels)
