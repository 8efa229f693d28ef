"""Spectrum files: two-column text/CSV and wide matrices (axis first, one spectrum a column).

Validation is what a Raman tool needs before anything is computed from a spectrum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from learner.formats.errors import FormatError

SPECTRUM_SUFFIXES = (".txt", ".csv", ".tsv", ".dat", ".xy", ".asc")
MIN_POINTS = 10
AXIS_LIMITS = (-500.0, 10_000.0)
"""Raman shift in cm⁻¹. Below zero is the anti-Stokes side of the laser line, which real
instruments record a little of (RaMPP starts at -27 cm⁻¹); beyond 10,000 is not a Raman shift."""


@dataclass(frozen=True, slots=True)
class SpectrumColumn:
    """One spectrum read from a file; ``position`` is its column (1 for a two-column file)."""

    position: int
    name: str
    axis: NDArray[np.float64]
    intensity: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SpectrumTable:
    columns: list[SpectrumColumn]
    errors: list[FormatError]
    """Columns that failed validation; the others are usable."""
    skipped_empty: int
    """Unnamed columns without a single value (a trailing separator), ignored."""

    @property
    def is_matrix(self) -> bool:
        return len(self.columns) + len(self.errors) + self.skipped_empty > 1


def read_spectrum_table(path: Path) -> SpectrumTable:
    """Read every spectrum of a two-column file or a wide matrix, validating each.

    Raises
    ------
    FormatError
        The file as a whole cannot be read (no numeric rows, a bad axis, ragged rows).
    """
    lines = _read_lines(path)
    delimiter = _detect_delimiter(lines)
    header: list[str] | None = None
    if lines and not _is_number(_split(lines[0], delimiter)[0], delimiter):
        header = [name.strip() for name in _split(lines[0], delimiter)]
        lines = lines[1:]
    if not lines:
        raise FormatError("no numeric rows")
    first = _split(lines[0], delimiter)
    decimal_comma = delimiter == ";" and any("," in c for c in first)
    columns = _fast_columns(lines, delimiter, len(first), decimal_comma)
    if columns is not None:
        width = len(first)
        cells: list[list[str]] = []
    else:
        rows = [_split(line, delimiter) for line in lines]
        width = max(len(row) for row in rows)
        cells = [row + [""] * (width - len(row)) for row in rows]
        columns = [[_to_float(c, decimal_comma) for c in col] for col in zip(*cells, strict=True)]
    if width < 2:
        raise FormatError("expected at least two columns (axis, intensity)")
    header = (header or [])[:width] + [""] * (width - len(header or []))

    axis = np.asarray(columns[0], dtype=np.float64)
    keep = ~np.isnan(axis)
    if keep.sum() == 0:
        raise FormatError("the axis (column 1) holds no numbers", "column 1")
    axis = axis[keep]
    order = _axis_order(axis)
    axis = axis[order]

    spectra, errors, skipped = [], [], 0
    for position in range(1, width):
        name = header[position] or f"column {position + 1}"
        raw = np.asarray(columns[position], dtype=np.float64)[keep][order]
        if not header[position] and cells and all(not row[position].strip() for row in cells):
            skipped += 1
            continue
        try:
            validate_intensity(raw)
        except FormatError as e:
            errors.append(FormatError(e.reason, f"column {position + 1} ({name})"))
            continue
        spectra.append(SpectrumColumn(position, name, axis, raw))
    return SpectrumTable(spectra, errors, skipped)


def read_spectrum_column(
    path: Path, position: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Axis and intensity of one column of a file (what an item's locator points at)."""
    for column in read_spectrum_table(path).columns:
        if column.position == position:
            return column.axis, column.intensity
    raise FormatError(f"no valid spectrum in column {position + 1}", f"column {position + 1}")


def _read_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise FormatError("a binary file, not a spectrum text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def _fast_columns(
    lines: list[str], delimiter: str | None, width: int, decimal_comma: bool
) -> NDArray[np.float64] | None:
    """The columns parsed in one C-speed conversion, for the common case of a complete numeric
    table; ``None`` (use the cell-by-cell path) for empty cells, text, or decimal commas."""
    if decimal_comma:
        return None
    body = "\n".join(lines)
    if delimiter is not None:
        if delimiter * 2 in body or any(line.rstrip().endswith(delimiter) for line in lines[:3]):
            return None  # empty cells: their NaN positions matter
        body = body.replace(delimiter, " ")
    try:
        flat = np.array(body.split(), dtype=np.float64)
    except ValueError:
        return None
    if flat.size != width * len(lines):
        return None
    return flat.reshape(len(lines), width).T


def _detect_delimiter(lines: list[str]) -> str | None:
    sample = lines[1:6] if len(lines) > 1 else lines
    for delimiter in (";", "\t", ","):
        if sample and all(delimiter in line for line in sample):
            return delimiter
    return None


def _split(line: str, delimiter: str | None) -> list[str]:
    return line.split(delimiter) if delimiter else line.split()


def _is_number(text: str, delimiter: str | None) -> bool:
    try:
        float(text.replace(",", ".") if delimiter == ";" else text)
    except ValueError:
        return False
    return True


def _to_float(text: str, decimal_comma: bool) -> float:
    text = text.strip()
    if not text:
        return math.nan
    try:
        return float(text.replace(",", ".") if decimal_comma else text)
    except ValueError:
        return math.nan


def _axis_order(axis: NDArray[np.float64]) -> NDArray[np.intp]:
    """Indices that make the axis increasing; a strictly decreasing axis is reversed."""
    if len(axis) < MIN_POINTS:
        raise FormatError(f"{len(axis)} points; a spectrum needs at least {MIN_POINTS}", "column 1")
    low, high = AXIS_LIMITS
    if axis.min() < low or axis.max() > high:
        raise FormatError(
            f"axis runs {axis.min():g}–{axis.max():g}, outside {low:g}–{high:g} cm⁻¹", "column 1"
        )
    steps = np.diff(axis)
    if np.all(steps > 0):
        return np.arange(len(axis))
    if np.all(steps < 0):
        return np.arange(len(axis))[::-1]
    where = int(np.argmax(steps <= 0)) if steps[0] > 0 else int(np.argmax(steps >= 0))
    raise FormatError(
        f"axis is not monotonic (points {where + 1}–{where + 2}: {axis[where]:g} then "
        f"{axis[where + 1]:g})",
        "column 1",
    )


def validate_intensity(values: NDArray[np.float64]) -> None:
    """Raise ``FormatError`` for NaN, infinite or too few intensities."""
    if len(values) < MIN_POINTS:
        raise FormatError(f"{len(values)} points; a spectrum needs at least {MIN_POINTS}")
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.flatnonzero(bad)
        kind = "NaN or empty" if np.isnan(values[rows[0]]) else "infinite"
        noun = "intensity" if bad.sum() == 1 else "intensities"
        raise FormatError(f"{bad.sum()} {kind} {noun} (first at point {rows[0] + 1})")
