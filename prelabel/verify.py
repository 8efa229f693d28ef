"""Decode every crop once: registering crops reads no image, so corrupt entries surface here
(or in the first job that decodes them) and are recorded against their item."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select
from tqdm import tqdm

from learner.formats.crops import check_crop, decode_crop, read_hdf5_crops
from learner.formats.diagnostics import library_messages, summary
from learner.formats.errors import FormatError
from store import catalog
from store.engine import transaction
from store.errors import ValidationError
from store.models import Item, Source
from store.projects import get_project

CHUNK = 4096
WARNED = "the image decoder warned: "


def verify_crops(engine: Engine, project_name: str, *, progress: bool = True) -> dict:
    """Decode every crop of a project; record each failure as an ingest error of its item.

    Returns counts: ``checked`` and ``unreadable``.

    Raises
    ------
    ValidationError
        The project is not a crop project.
    """
    with transaction(engine) as session:
        project = get_project(session, project_name)
        if project.modality != "crop":
            raise ValidationError(f"project {project_name!r} is {project.modality}, not crop")
        rows = session.execute(
            select(Item.id, Item.member, Item.position, Source.uri, Source.kind)
            .join(Source, Source.id == Item.source_id)
            .where(Item.project_id == project.id)
            .order_by(Source.id, Item.member, Item.position)
        ).all()
    failures: list[tuple[int, str, str, str]] = []
    bar = tqdm(total=len(rows), unit="crop", desc="decode", disable=not progress, leave=False)
    groups: dict[tuple[str, str, str | None], list] = {}
    for row in rows:
        groups.setdefault((row.uri, row.kind, row.member), []).append(row)
    for (uri, kind, member), group in groups.items():
        for start in range(0, len(group), CHUNK):
            chunk = group[start : start + CHUNK]
            failures.extend(_decode_chunk(Path(uri), kind, member, chunk))
            bar.update(len(chunk))
    bar.close()
    with transaction(engine) as session:
        for item_id, uri, member, reason in failures:
            catalog.record_ingest_error(
                session, project.id, uri, reason, member=member, item_id=item_id
            )
    unreadable = sum(1 for *_, reason in failures if not reason.startswith(WARNED))
    return {"checked": len(rows), "unreadable": unreadable}


def _decode_chunk(
    path: Path, kind: str, member: str | None, rows: list
) -> list[tuple[int, str, str, str]]:
    failures = []
    try:
        if kind == "hdf5":
            positions = np.array([r.position for r in rows], dtype=np.int64)
            blobs = read_hdf5_crops(path, member or "", positions)
        else:
            blobs = [path.read_bytes()]
    except (OSError, KeyError) as e:
        return [(r.id, str(path), _locator(r), f"cannot be read ({e})") for r in rows]
    with library_messages() as messages:  # one capture a chunk: a file per crop is slow
        for row, blob in zip(rows, blobs, strict=True):
            try:
                decode_crop(blob)
            except FormatError as e:
                failures.append((row.id, str(path), _locator(row), e.reason))
    if not messages:
        return failures
    failures = []  # the decoder spoke: check each entry on its own to know which it meant
    for row, blob in zip(rows, blobs, strict=True):
        try:
            said = check_crop(blob)
        except FormatError as e:
            failures.append((row.id, str(path), _locator(row), e.reason))
            continue
        if said:  # readable: recorded with the entry, not counted as unreadable
            failures.append((row.id, str(path), _locator(row), f"{WARNED}{summary(said)}"))
    return failures


def _locator(row) -> str:  # type: ignore[no-untyped-def]
    return f"{row.member}[{row.position}]" if row.position is not None else (row.member or "image")
