"""``loupe suggestions export``: a version's current suggestions, to check or use outside Loupe.

Audio suggestions become one Audacity label track per recording: the proposed span, the
predicted class and its probability, so they open on top of the recording in Audacity.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from sqlalchemy import Engine, select

from learner.formats import writers
from store.archive import not_archived
from store.engine import transaction
from store.errors import ValidationError
from store.models import Item, Source, Suggestion
from store.projects import get_project
from store.suggestions import model_version_for

FORMATS = ("jsonl", "csv", "audacity")
COLUMNS = (
    "item_id",
    "source",
    "locator",
    "label",
    "confidence",
    "margin",
    "entropy",
    "start_s",
    "end_s",
    "probabilities",
)


def export_suggestions(
    engine: Engine, project_name: str, fmt: str, out: Path, *, version_id: int | None = None
) -> dict:
    """Write the suggestions of the project's active (or the named) version under ``out``.

    Returns counts and the files written.

    Raises
    ------
    ValidationError
        Unknown format, or ``audacity`` for a project that is not audio.
    """
    if fmt not in FORMATS:
        raise ValidationError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    with transaction(engine) as session:
        project = get_project(session, project_name)
        if fmt == "audacity" and project.modality != "audio":
            raise ValidationError(
                f"audacity export is for audio projects; {project_name} is {project.modality}"
            )
        version = model_version_for(session, project.id, version_id)
        rows = session.execute(
            select(
                Suggestion.item_id,
                Source.uri,
                Item.locator,
                Suggestion.label,
                Suggestion.confidence,
                Suggestion.margin,
                Suggestion.entropy,
                Suggestion.start_s,
                Suggestion.end_s,
                Suggestion.probabilities,
            )
            .join(Item, Item.id == Suggestion.item_id)
            .join(Source, Source.id == Item.source_id)
            .where(Suggestion.model_version_id == version.id, not_archived(Item.id))
            .order_by(Source.uri, Item.start_s, Item.locator)
        ).all()
        classes = list(version.classes)
        version_ref = version.id
    out.mkdir(parents=True, exist_ok=True)
    records = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    if fmt == "jsonl":
        files = ["suggestions.jsonl"]
        with (out / files[0]).open("w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record | {"classes": classes}) + "\n")
    elif fmt == "csv":
        files = ["suggestions.csv"]
        with (out / files[0]).open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow([*COLUMNS[:-1], *(f"p_{c}" for c in classes)])
            for record in records:
                writer.writerow(
                    ["" if record[c] is None else record[c] for c in COLUMNS[:-1]]
                    + list(record["probabilities"])
                )
    else:
        files = _audacity(out, records)
    return {
        "model_version": version_ref,
        "suggestions": len(records),
        "format": fmt,
        "out": str(out),
        "files": files,
    }


def _audacity(out: Path, records: list[dict]) -> list[str]:
    by_recording: dict[str, list[writers.LabelledSpan]] = defaultdict(list)
    for r in records:
        if r["start_s"] is None or r["end_s"] is None:
            continue
        label = f"{r['label']} {r['confidence']:.2f}"
        by_recording[r["source"]].append(writers.LabelledSpan(r["start_s"], r["end_s"], label))
    files = []
    stems: dict[str, int] = defaultdict(int)
    for uri in sorted(by_recording):
        stem = Path(uri).stem
        stems[stem] += 1
        name = f"{stem}.txt" if stems[stem] == 1 else f"{stem}-{stems[stem]}.txt"
        writers.write_audacity(out / name, by_recording[uri])
        files.append(name)
    return files
