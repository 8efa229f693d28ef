"""Spectrum files: two-column text/CSV and wide matrices (axis first, one spectrum a column).

Validation is what a Raman tool needs before anything is computed from a spectrum.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from learner.formats.errors import FormatError
from learner.formats.text import parse_decimal, read_text

SPECTRUM_SUFFIXES = (".txt", ".csv", ".tsv", ".dat", ".xy", ".asc")
MIN_POINTS = 10
MIN_AXIS_SPAN = 100.0
"""cm⁻¹. One grating position of a Raman instrument already spans several hundred cm⁻¹; an
axis narrower than this is another quantity (times in seconds, indices), not a Raman shift."""
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
        The file as a whole cannot be read (no numeric rows, a bad axis, a cell of the axis
        that is not a number, a header that does not match the rows).
    """
    numbered = _read_lines(path)
    delimiter = _detect_delimiter([line for _, line in numbered])
    header: list[str] | None = None
    header_line = f"line {numbered[0][0]}" if numbered else "line 1"
    if numbered and not _is_number(_split(numbered[0][1], delimiter)[0], delimiter):
        first_cell = _split(numbered[0][1], delimiter)[0].strip()
        if _NUMBER_LIKE.fullmatch(_SPELLED_NON_FINITE.sub("0", first_cell.lower())):
            raise FormatError(
                f"axis value {first_cell!r} is not a number", header_line
            )  # a misspelled number, not a header: reading it as names would lose the row
        header = [name.strip() for name in _split(numbered[0][1], delimiter)]
        numbered = numbered[1:]
        names = {name.lower() for name in header}
        if "file" in names and "label" in names:
            raise FormatError("a labels CSV (columns file,label), not a spectrum", header_line)
    if not numbered:
        raise FormatError("no numeric rows")
    first = _split(numbered[0][1], delimiter)
    decimal_comma = delimiter == ";" and any("," in c for c in first)
    lines = [line for _, line in numbered]
    row_lines = [number for number, _ in numbered]
    columns = _fast_columns(lines, delimiter, len(first), decimal_comma)
    text_cells: dict[int, tuple[int, str]] = {}
    if columns is not None:
        width = len(first)
        cells: list[list[str]] = []
    else:
        rows = [(n, _split(line, delimiter)) for n, line in numbered]
        rows = [(n, row) for n, row in rows if any(cell.strip() for cell in row)]
        width = max(len(row) for _, row in rows)
        cells = [row + [""] * (width - len(row)) for _, row in rows]
        columns = _parse_cells(rows, width, decimal_comma, text_cells)
        row_lines = [number for number, _ in rows]
    if width < 2:
        raise FormatError("expected at least two columns (axis, intensity)")
    header = _check_header(header, width, cells, header_line)

    axis = np.asarray(columns[0], dtype=np.float64)
    if 0 in text_cells:
        line, cell = text_cells[0]
        raise FormatError(f"axis value {cell!r} is not a number", f"line {line}")
    missing = np.flatnonzero(np.isnan(axis))
    if len(missing):
        raise FormatError(
            "the row has no axis value (column 1 is empty or NaN)",
            f"line {row_lines[missing[0]]}",
        )
    order = _axis_order(axis)
    axis = axis[order]

    spectra, errors, skipped = [], [], 0
    seen: dict[str, int] = {}
    for position in range(1, width):
        name = header[position] or f"column {position + 1}"
        where = f"column {position + 1} ({name})"
        raw = np.asarray(columns[position], dtype=np.float64)[order]
        if not header[position] and cells and all(not row[position].strip() for row in cells):
            skipped += 1
            continue
        if position in text_cells:
            line, cell = text_cells[position]
            errors.append(FormatError(f"intensity {cell!r} at line {line} is not a number", where))
            continue
        if header[position] and header[position] in seen:
            errors.append(
                FormatError(
                    f"the header names {header[position]!r} twice "
                    f"(columns {seen[header[position]] + 1} and {position + 1})",
                    where,
                )
            )
            continue
        seen.setdefault(header[position], position)
        try:
            validate_intensity(raw)
        except FormatError as e:
            errors.append(FormatError(e.reason, where))
            continue
        spectra.append(SpectrumColumn(position, name, axis, raw))
    return SpectrumTable(spectra, errors, skipped)


def _parse_cells(
    rows: list[tuple[int, list[str]]],
    width: int,
    decimal_comma: bool,
    text_cells: dict[int, tuple[int, str]],
) -> list[list[float]]:
    """Columns of numbers from cells; an empty cell is NaN, and the first cell of each column
    that is not a number goes into ``text_cells`` as ``(line, cell)``."""
    columns: list[list[float]] = [[] for _ in range(width)]
    for line, row in rows:
        for position in range(width):
            cell = row[position].strip() if position < len(row) else ""
            if not cell:
                columns[position].append(math.nan)
                continue
            if cell.lower().lstrip("+-") in _NON_FINITE:
                columns[position].append(float(cell))  # rejected by validation, by point
                continue
            try:
                if decimal_comma and "." in cell:  # a thousands separator or a decimal point?
                    raise FormatError("a point in a decimal-comma file")
                value = parse_decimal(
                    cell.replace(",", ".") if decimal_comma else cell, "cell", None
                )
            except FormatError:
                text_cells.setdefault(position, (line, cell))
                value = math.nan
            columns[position].append(value)
    return columns


def _check_header(
    header: list[str] | None, width: int, cells: list[list[str]], where: str
) -> list[str]:
    """Header names, one per column; a header that names more or fewer columns than the rows
    hold would shift every name onto the wrong spectrum, so it is an error."""
    if header is None:
        return [""] * width
    while len(header) > width and not header[-1]:
        header = header[:-1]
    if len(header) > width:
        raise FormatError(
            f"the header names {len(header)} columns but the rows hold {width}", where
        )
    if len(header) < width:
        extra = range(len(header), width)
        if not cells or any(row[p].strip() for row in cells for p in extra):
            raise FormatError(
                f"the header names {len(header)} columns but the rows hold {width}", where
            )
    return header + [""] * (width - len(header))


def read_spectrum_column(
    path: Path, position: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Axis and intensity of one column of a file (what an item's locator points at)."""
    for column in read_spectrum_table(path).columns:
        if column.position == position:
            return column.axis, column.intensity
    raise FormatError(f"no valid spectrum in column {position + 1}", f"column {position + 1}")


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` of every line that is not blank or a ``#`` comment."""
    text = read_text(path)
    return [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
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
    if _NOT_PLAIN_NUMBER.search(body):
        return None  # text, nan, inf, digit separators: the cell-by-cell path names the cell
    try:
        flat = np.array(body.split(), dtype=np.float64)
    except ValueError:
        return None
    if flat.size != width * len(lines):
        return None
    return flat.reshape(len(lines), width).T


_NUMBER_LIKE = re.compile(r"[\d.,_+\-eE]*\d[\d.,_+\-eE]*")
"""A cell of digits, signs, separators and exponents (``1,5``, ``1_000``, ``1e400,0``): a number
in some convention, or out of range, never a column name."""
_SPELLED_NON_FINITE = re.compile(r"infinity|inf|nan")
_NON_FINITE = ("nan", "inf", "infinity")
"""Spelled non-finite values (numpy writes them): read as such, so validation names the point."""
_NOT_PLAIN_NUMBER = re.compile(r"[^0-9eE+\-.\s]")


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
        parse_decimal(text.replace(",", ".") if delimiter == ";" else text, "cell", None)
    except FormatError:
        return False
    return True


def _axis_order(axis: NDArray[np.float64]) -> NDArray[np.intp]:
    """Indices that make the axis increasing; a strictly decreasing axis is reversed."""
    if len(axis) < MIN_POINTS:
        raise FormatError(f"{len(axis)} points; a spectrum needs at least {MIN_POINTS}", "column 1")
    low, high = AXIS_LIMITS
    if axis.min() < low or axis.max() > high:
        raise FormatError(
            f"axis runs {axis.min():g}–{axis.max():g}, outside {low:g}–{high:g} cm⁻¹", "column 1"
        )
    if axis.max() - axis.min() < MIN_AXIS_SPAN:
        raise FormatError(
            f"axis runs {axis.min():g}–{axis.max():g}, a span under {MIN_AXIS_SPAN:g} cm⁻¹: "
            "not a Raman shift axis",
            "column 1",
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
