"""Ingest of crops: HDF5 stores (with their index CSVs), videos (extracted once into a store)
and image folders (one item per image, labelled by its folder or the labels CSV)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from learner.formats import crops
from learner.formats.diagnostics import library_messages
from learner.formats.diagnostics import summary as said
from learner.formats.errors import FormatError
from prelabel.ingest_run import IngestRun, sha256_of
from prelabel.jobs import JobRecorder
from store.catalog import ImportedLabel, ItemRow
from store.engine import transaction

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v")


def ingest_crops(run: IngestRun, files: list[tuple[Path, Path]], job: JobRecorder) -> None:
    labels_path = run.labels.path if run.labels else None
    stores = [f for f, _ in files if f.suffix.lower() in crops.HDF5_SUFFIXES]
    indexes = [f for f, _ in files if f.suffix.lower() == ".csv" and crops.is_crop_index(f)]
    root_of = dict(files)
    images = [(f, root) for f, root in files if f.suffix.lower() in crops.IMAGE_SUFFIXES]
    videos = [f for f, _ in files if f.suffix.lower() in VIDEO_SUFFIXES]
    for path in indexes:
        run.outcome(path, "label")
    used = set(stores) | set(indexes) | {f for f, _ in images} | set(videos)
    for path, _ in files:
        if path not in used:
            run.outcome(path, "label" if path == labels_path else "ignored")
    store_of_video: dict[Path, Path] = {}
    for video in videos:
        extracted = _extract_video(run, video)
        if extracted is not None:
            stores.append(extracted[0])
            indexes.append(extracted[1])
            store_of_video[extracted[0]] = video
    index_rows: dict[Path, list[crops.IndexRow]] = defaultdict(list)
    for index in indexes:
        try:
            roots = [root_of.get(index, index.parent), *run.media_roots]
            rows, errors = crops.read_crop_index(index, roots)
        except FormatError as e:
            run.failed(index, e.reason, e.member)
            continue
        for e in errors:
            run.error_now(index, e.reason, e.member)
        for row in rows:
            index_rows[row.hdf5_file].append(row)
    known = set(stores)
    stores += sorted(p for p in index_rows if p not in known and p.is_file())
    for missing in sorted(set(index_rows) - set(stores)):
        first = index_rows[missing][0]
        run.error_now(first.hdf5_file, "named in an index CSV but not found", f"line {first.line}")
    job.total(len(stores) + len(images))
    for path in stores:
        _ingest_crop_store(run, path, index_rows.get(path, []), store_of_video.get(path))
        job.advance(1)
    for path, root in tqdm(
        images, unit="file", desc="images", disable=not (run.progress and images)
    ):
        _ingest_image(run, path, root)
        job.advance(1)


def _extract_video(run: IngestRun, video: Path) -> tuple[Path, Path] | None:
    """Spatter crops of a video, extracted once into the derived folder (keyed by the video's
    content hash) and ingested like any crop store. A video that stops early still gives the
    crops of the frames that could be read, and an ingest error saying where it stopped."""
    from learner.video import extract_crops

    digest, _ = sha256_of(video)
    out = run.derived_dir / f"{video.stem}-{digest[:12]}"
    done = out / "extracted.json"
    if not done.exists():
        try:
            with library_messages() as messages:
                result = extract_crops(video, out, progress=run.progress)
        except FormatError as e:
            run.failed(video, e.reason, e.member)
            return None
        if messages:
            run.error_now(video, f"the video decoder warned: {said(messages)}")
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
        run.error_now(video, summary["error"])
    return out / summary["h5"], out / summary["index"]


def _ingest_crop_store(
    run: IngestRun, path: Path, index: list[crops.IndexRow], video: Path | None
) -> None:
    """One HDF5 store; a store extracted from a video gives its outcome to the video."""
    shown = video or path
    with library_messages() as messages:
        try:
            datasets, errors = crops.list_crop_datasets(path)
            failure = None
        except FormatError as e:
            datasets, errors, failure = [], [], e
    if failure is not None:
        detail = f" ({said(messages)})" if messages else ""
        run.error_now(path, failure.reason + detail, failure.member)
        run.outcome(shown, "failed")
        return
    if messages:
        run.error_now(path, f"the HDF5 library warned: {said(messages)}")
    for e in errors:
        run.error_now(path, e.reason, e.member)
    if not datasets:
        if not errors:
            run.error_now(path, "no datasets of encoded images")
        run.outcome(shown, "failed")
        return
    lengths = {d.name: d.length for d in datasets}
    meta = {"datasets": lengths, "crops": sum(lengths.values())}
    source, fresh = run.open_source(path, "hdf5", meta)
    if video is not None:
        run.outcome(video, run.report.outcomes.pop(str(path)))
    items = [ItemRow(f"{d.name}[{i}]", d.name, i) for d in datasets for i in range(d.length)]
    labels = []
    with transaction(run.engine) as session:
        for row in index:
            where = f"line {row.line}"
            if row.dataset_name not in lengths:
                run.error(
                    session,
                    path,
                    f"index names dataset {row.dataset_name!r}, not in the file",
                    where,
                )
            elif not 0 <= row.index < lengths[row.dataset_name]:
                run.error(
                    session,
                    path,
                    f"index {row.index} is outside dataset {row.dataset_name!r} "
                    f"({lengths[row.dataset_name]} entries)",
                    where,
                )
            elif row.label and run.check_label(session, path, row.label, where):
                labels.append(ImportedLabel(f"{row.dataset_name}[{row.index}]", row.label))
    with run.bar(len(items) if fresh else 0, "crop", path.name) as bar:
        run.register(source, items, labels, fresh=fresh, bar=bar)


def _ingest_image(run: IngestRun, path: Path, root: Path) -> None:
    try:
        warnings = crops.check_crop(path.read_bytes())
    except (FormatError, OSError) as e:
        run.failed(path, e.reason if isinstance(e, FormatError) else str(e))
        return
    if warnings:
        run.error_now(path, f"the image decoder warned: {said(warnings)}")
    source, fresh = run.open_source(path, "image", {"folder": str(root)})
    label = (run.labels.label_for(path) if run.labels else None) or crops.image_class(path, root)
    labels = []
    with transaction(run.engine) as session:
        if label and run.check_label(session, path, label, None):
            labels.append(ImportedLabel("image", label))
    run.register(source, [ItemRow("image", path.name)], labels, fresh=fresh)
