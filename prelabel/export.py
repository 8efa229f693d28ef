"""``loupe export``: a snapshot in the formats its field uses, with a manifest.

Every file is written deterministically (sorted rows, no timestamps), so exporting the same
snapshot twice gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select

from learner.formats import writers
from learner.formats.crops import read_hdf5_crops
from learner.formats.spectra import read_spectrum_column
from store.archive import archived_item_ids
from store.engine import transaction
from store.errors import ValidationError
from store.models import Annotation, Project, Suggestion, User
from store.snapshot_refs import resolve_snapshot, snapshot_ref
from store.snapshots import EntryRecord, snapshot_entries

TABLE_FORMATS = ("csv", "jsonl", "parquet")
FIELD_FORMATS = {"audio": ("audacity", "raven"), "spectrum": ("spectra",), "crop": ("hdf5",)}
COLUMNS = (
    "item_id",
    "source",
    "locator",
    "member",
    "position",
    "label",
    "start_s",
    "end_s",
    "f_low_hz",
    "f_high_hz",
    "origin",
    "split",
    "annotation_id",
    "annotator",
    "suggestion_id",
    "model_version_id",
)


def formats_for(modality: str) -> tuple[str, ...]:
    return TABLE_FORMATS + FIELD_FORMATS[modality]


def loupe_version() -> str:
    try:
        return version("loupe")
    except PackageNotFoundError:
        return "unknown"


def export_snapshot(
    engine: Engine,
    ref: str,
    fmt: str,
    out: Path,
    project_name: str | None = None,
    *,
    overwrite: bool = False,
) -> dict:
    """Write the snapshot ``ref`` names (see :mod:`store.snapshot_refs`) in ``fmt`` under
    ``out`` with ``manifest.json``. Entries of items archived since are left out, and counted
    in the manifest's ``archived_left_out``.

    Returns the manifest.

    Raises
    ------
    ValidationError
        The format does not fit the project's modality, or ``out`` holds files and
        ``overwrite`` is not set.
    NotFoundError, AmbiguousError
        As :func:`store.snapshot_refs.resolve_snapshot`.
    """
    with transaction(engine) as session:
        snapshot = resolve_snapshot(session, ref, project_name)
        project = session.get(Project, snapshot.project_id)
        if fmt not in formats_for(project.modality):
            raise ValidationError(
                f"format {fmt!r} does not fit a {project.modality} project: "
                f"choose one of {', '.join(formats_for(project.modality))}"
            )
        entries = snapshot_entries(session, snapshot.id)
        archived = archived_item_ids(session, project.id)
        kept = [e for e in entries if e.item_id not in archived]
        archived_left_out, entries = len(entries) - len(kept), kept
        provenance = _provenance(session, entries)
        head = {
            "id": snapshot.id,
            "name": snapshot.name,
            "sha256": snapshot.manifest_sha256,
            "project": project.name,
            "modality": project.modality,
            "ref": snapshot_ref(project.name, snapshot.name),
        }
    _refuse_to_overwrite(out, head["ref"], overwrite)
    out.mkdir(parents=True, exist_ok=True)
    rows = [_row(e, provenance) for e in entries]
    writer = {
        "csv": _table_csv,
        "jsonl": _table_jsonl,
        "parquet": _table_parquet,
        "audacity": _audacity,
        "raven": _raven,
        "spectra": _spectra,
        "hdf5": _hdf5,
    }[fmt]
    files = writer(out, entries, rows)
    manifest = {
        "snapshot": head,
        "format": fmt,
        "loupe_version": loupe_version(),
        "entries": len(entries),
        "archived_left_out": archived_left_out,
        "by_label": dict(sorted(Counter(e.label for e in entries).items())),
        "by_origin": dict(sorted(Counter(e.origin for e in entries).items())),
        "by_split": dict(sorted(Counter(e.split for e in entries).items())),
        "files": {name: _sha256(out / name) for name in sorted(files)},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _refuse_to_overwrite(out: Path, ref: str, overwrite: bool) -> None:
    """An earlier export (or anything else) in ``out`` is kept unless the user said otherwise."""
    if overwrite or not out.is_dir():
        return
    present = sorted(p.name for p in out.iterdir())
    if not present:
        return
    earlier = ""
    manifest = out / "manifest.json"
    if manifest.is_file():
        try:
            head = json.loads(manifest.read_text()).get("snapshot", {})
            earlier = f"; it holds an export of {head['project']}:{head['name']}"
        except (ValueError, KeyError, AttributeError):
            pass
    raise ValidationError(
        f"{out} is not empty ({len(present)} entries: {', '.join(present[:3])}"
        f"{', ...' if len(present) > 3 else ''}{earlier}): export {ref} into an empty folder, "
        "or pass --overwrite to write over it"
    )


def _provenance(session, entries: list[EntryRecord]) -> dict:  # type: ignore[no-untyped-def]
    annotation_ids = {e.annotation_id for e in entries if e.annotation_id}
    suggestion_ids = {e.suggestion_id for e in entries if e.suggestion_id}
    annotators = (
        dict(
            session.execute(
                select(Annotation.id, User.name)
                .join(User, User.id == Annotation.user_id)
                .where(Annotation.id.in_(annotation_ids))
            ).all()
        )
        if annotation_ids
        else {}
    )
    versions = (
        dict(
            session.execute(
                select(Suggestion.id, Suggestion.model_version_id).where(
                    Suggestion.id.in_(suggestion_ids)
                )
            ).all()
        )
        if suggestion_ids
        else {}
    )
    return {"annotators": annotators, "versions": versions}


def _row(e: EntryRecord, provenance: dict) -> dict:
    return {
        "item_id": e.item_id,
        "source": e.source_uri,
        "locator": e.locator,
        "member": e.member,
        "position": e.position,
        "label": e.label,
        "start_s": e.start_s,
        "end_s": e.end_s,
        "f_low_hz": e.f_low_hz,
        "f_high_hz": e.f_high_hz,
        "origin": e.origin,
        "split": e.split,
        "annotation_id": e.annotation_id,
        "annotator": provenance["annotators"].get(e.annotation_id),
        "suggestion_id": e.suggestion_id,
        "model_version_id": provenance["versions"].get(e.suggestion_id),
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _table_csv(out: Path, entries, rows: list[dict]) -> list[str]:  # type: ignore[no-untyped-def]
    writers.write_rows_csv(out / "entries.csv", COLUMNS, [[r[c] for c in COLUMNS] for r in rows])
    return ["entries.csv"]


def _table_jsonl(out: Path, entries, rows: list[dict]) -> list[str]:  # type: ignore[no-untyped-def]
    text = "".join(json.dumps({c: r[c] for c in COLUMNS}) + "\n" for r in rows)
    (out / "entries.jsonl").write_text(text, encoding="utf-8")
    return ["entries.jsonl"]


def _table_parquet(out: Path, entries, rows: list[dict]) -> list[str]:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(
        [{c: r[c] for c in COLUMNS} for r in rows], schema=_parquet_schema()
    )
    pq.write_table(table, out / "entries.parquet", compression="zstd")
    return ["entries.parquet"]


def _parquet_schema():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    text, integer, real = pa.string(), pa.int64(), pa.float64()
    types = {
        "item_id": integer,
        "source": text,
        "locator": text,
        "member": text,
        "position": integer,
        "label": text,
        "start_s": real,
        "end_s": real,
        "f_low_hz": real,
        "f_high_hz": real,
        "origin": text,
        "split": text,
        "annotation_id": integer,
        "annotator": text,
        "suggestion_id": integer,
        "model_version_id": integer,
    }
    return pa.schema([(c, types[c]) for c in COLUMNS])


def _by_recording(entries: list[EntryRecord]) -> dict[str, list[writers.LabelledSpan]]:
    spans: dict[str, list[writers.LabelledSpan]] = defaultdict(list)
    for e in entries:
        spans[e.source_uri].append(
            writers.LabelledSpan(e.start_s, e.end_s, e.label, e.f_low_hz, e.f_high_hz)
        )
    return spans


def _export_names(uris: list[str]) -> dict[str, str]:
    """A file stem per source: its own stem, made unique with a counter when stems repeat."""
    names: dict[str, str] = {}
    used: Counter = Counter()
    for uri in sorted(uris):
        stem = Path(uri).stem
        used[stem] += 1
        names[uri] = stem if used[stem] == 1 else f"{stem}-{used[stem]}"
    return names


def _audacity(out: Path, entries, rows) -> list[str]:  # type: ignore[no-untyped-def]
    spans = _by_recording(entries)
    names = _export_names(list(spans))
    for uri, recording_spans in spans.items():
        writers.write_audacity(out / f"{names[uri]}.txt", recording_spans)
    return [f"{names[uri]}.txt" for uri in spans]


def _raven(out: Path, entries, rows) -> list[str]:  # type: ignore[no-untyped-def]
    import soundfile

    spans = _by_recording(entries)
    names = _export_names(list(spans))
    files = []
    for uri, recording_spans in spans.items():
        nyquist = soundfile.info(uri).samplerate / 2
        name = f"{names[uri]}.Table.1.selections.txt"
        writers.write_raven(out / name, recording_spans, nyquist_hz=nyquist)
        files.append(name)
    return files


def _spectra(out: Path, entries, rows) -> list[str]:  # type: ignore[no-untyped-def]
    names = _export_names(sorted({e.source_uri for e in entries}))
    files, labels = [], []
    for e in entries:
        axis, intensity = read_spectrum_column(Path(e.source_uri), e.position or 1)
        column = f"-{_safe(e.member)}" if e.member else ""
        name = f"{names[e.source_uri]}{column}.txt"
        writers.write_two_column(out / name, axis, intensity)
        files.append(name)
        labels.append((name, e.label, e.split))
    writers.write_rows_csv(out / "labels.csv", ("file", "label", "split"), sorted(labels))
    return [*files, "labels.csv"]


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text.strip())


def _hdf5(out: Path, entries, rows) -> list[str]:  # type: ignore[no-untyped-def]
    """One HDF5 with a dataset per source dataset (image folders: one per class) and its index."""
    groups: dict[tuple[str, str], list[EntryRecord]] = defaultdict(list)
    for e in entries:
        groups[(e.source_uri, e.member if e.source_kind == "hdf5" else "images")].append(e)
    stems = _export_names(sorted({uri for uri, _ in groups}))
    datasets: dict[str, list[bytes]] = {}
    index_rows = []
    for (uri, member), group in sorted(groups.items()):
        name = (
            member if len({m for _, m in groups if m == member}) == 1 else f"{stems[uri]}/{member}"
        )
        if member == "images":
            blobs = [Path(e.source_uri).read_bytes() for e in group]
        else:
            positions = np.array([e.position for e in group], dtype=np.int64)
            blobs = read_hdf5_crops(Path(uri), member, positions)
        start = len(datasets.setdefault(name, []))
        datasets[name].extend(blobs)
        index_rows += [("crops.h5", name, start + i, e.label) for i, e in enumerate(group)]
    writers.write_crop_store(out / "crops.h5", datasets)
    writers.write_rows_csv(
        out / "index.csv", ("hdf5_file", "dataset_name", "index", "label"), index_rows
    )
    return ["crops.h5", "index.csv"]
