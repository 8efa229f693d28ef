"""A labels CSV given to ingest: ``file,label`` (and optionally ``column`` for matrices), file
names relative to the CSV."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from learner.formats.errors import FormatError


@dataclass
class LabelsCsv:
    path: Path
    by_file: dict[Path, str] = field(default_factory=dict)
    by_column: dict[tuple[Path, str], str] = field(default_factory=dict)
    errors: list[tuple[int, str]] = field(default_factory=list)
    """``(line, reason)`` for rows that could not be used."""

    def label_for(self, path: Path, column: str | None = None) -> str | None:
        """The label of a file, or of one named column of a matrix (which wins over the file)."""
        path = path.resolve()
        if column is not None and (path, column) in self.by_column:
            return self.by_column[(path, column)]
        return self.by_file.get(path)


def read_labels_csv(path: Path) -> LabelsCsv:
    """Read a labels CSV.

    Raises
    ------
    FormatError
        The file is missing or has no ``file`` and ``label`` columns.
    """
    path = path.expanduser().resolve()
    if not path.is_file():
        raise FormatError(f"labels CSV {path} does not exist")
    labels = LabelsCsv(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        names = [n.strip().lower() for n in reader.fieldnames or []]
        if "file" not in names or "label" not in names:
            raise FormatError(
                f"labels CSV {path}: expected the columns file,label "
                f"(found {','.join(names) or 'none'})"
            )
        reader.fieldnames = names
        for line, row in enumerate(reader, start=2):
            file, label = (row.get("file") or "").strip(), (row.get("label") or "").strip()
            if not file or not label:
                labels.errors.append((line, "a row needs both a file and a label"))
                continue
            target = (path.parent / file).resolve()
            column = (row.get("column") or "").strip()
            if column:
                labels.by_column[(target, column)] = label
            else:
                labels.by_file[target] = label
    return labels
