"""A labels CSV given to ingest: ``file,label`` (and optionally ``column`` for matrices).

File names resolve relative to the folder of the CSV (an absolute name stays as it is), so a CSV
beside its data can name files by their bare names; a name that resolves outside the CSV's folder
and the roots it is read with is an error of its row (:func:`learner.formats.paths.contained`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from learner.formats.errors import FormatError
from learner.formats.paths import OutsideRootError, contained
from learner.formats.text import read_text

LabelKey = tuple[Path, str | None]
"""A labelled target: a file, and the name of one matrix column or ``None`` for the file."""


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One usable row; ``line`` is where it was read, ``file`` as written in the CSV."""

    line: int
    file: str
    label: str
    column: str | None = None


@dataclass
class LabelsCsv:
    path: Path
    roots: tuple[Path, ...] = ()
    """Where named files may lie besides the CSV's folder (the ingested folders, media roots)."""
    rows: dict[LabelKey, LabelRow] = field(default_factory=dict)
    errors: list[tuple[int, str]] = field(default_factory=list)
    """``(line, reason)`` for rows that could not be used."""
    matched: set[LabelKey] = field(default_factory=set)
    """Targets that :meth:`label_for` has given a label for."""

    def label_for(self, path: Path, column: str | None = None) -> str | None:
        """The label of a file, or of one named column of a matrix (which wins over the file)."""
        path = path.resolve()
        for key in ((path, column), (path, None)) if column is not None else ((path, None),):
            if key in self.rows:
                self.matched.add(key)
                return self.rows[key].label
        return None

    def unmatched(self) -> list[LabelRow]:
        """Rows whose file (or column) no :meth:`label_for` call has asked for, by line."""
        return sorted(
            (row for key, row in self.rows.items() if key not in self.matched),
            key=lambda row: row.line,
        )


def read_labels_csv(path: Path, roots: Sequence[Path] = ()) -> LabelsCsv:
    """Read a labels CSV whose files lie in its folder or in one of ``roots``.

    Returns the usable rows and one error per row that cannot be used (too many or too few
    fields, an empty file or label, a second row for the same target with another label, a
    file outside the CSV's folder and ``roots``).

    Raises
    ------
    FormatError
        The file is missing, cannot be decoded or split into CSV rows, or has no ``file`` and
        ``label`` columns; the message names the file and, where it applies, the line.
    """
    path = path.expanduser().resolve()
    if not path.is_file():
        raise FormatError(f"labels CSV {path} does not exist")
    try:
        text = read_text(path)
    except FormatError as e:
        raise FormatError(f"labels CSV {path}: {e.reason}") from e
    labels = LabelsCsv(path, tuple(roots))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if "file" not in header or "label" not in header:
            raise FormatError(
                f"labels CSV {path}: expected the columns file,label "
                f"(found {','.join(header) or 'none'})"
            )
        repeated = sorted({name for name in header if name and header.count(name) > 1})
        if repeated:
            raise FormatError(f"labels CSV {path}: the header repeats {', '.join(repeated)}")
        for fields in reader:
            _add_row(labels, header, fields, reader.line_num)
    except csv.Error as e:
        raise FormatError(
            f"labels CSV {path}: not valid CSV ({e})", f"line {reader.line_num}"
        ) from e
    return labels


def _add_row(labels: LabelsCsv, header: list[str], fields: list[str], line: int) -> None:
    if not any(field.strip() for field in fields):
        return
    if len(fields) != len(header):
        labels.errors.append((line, f"{len(fields)} fields where the header has {len(header)}"))
        return
    row = dict(zip(header, fields, strict=True))
    file, label = row["file"].strip(), row["label"].strip()
    if not file or not label:
        labels.errors.append((line, "a row needs both a file and a label"))
        return
    try:
        target = contained(labels.path.parent / file, (labels.path.parent, *labels.roots))
    except OutsideRootError as e:
        labels.errors.append((line, e.reason))
        return
    key: LabelKey = (target, (row.get("column") or "").strip() or None)
    earlier = labels.rows.get(key)
    if earlier is not None and earlier.label != label:
        labels.errors.append(
            (
                line,
                f"{file} is labelled {earlier.label!r} at line {earlier.line} and {label!r} here",
            )
        )
        return
    if earlier is None:
        labels.rows[key] = LabelRow(line, file, label, key[1])
