"""Text files and the numbers in them, read without guessing.

Every reader of a text format (label tracks, selection tables, label and index CSVs, spectra)
decodes bytes and parses numbers here, so one rule holds everywhere: a number is written the way
instruments and editors write it (``-12.5``, ``1e-3``), and anything else is an error that names
its line, never a value Python or numpy would quietly accept (``1_000``, ``nan``, ``infinity``,
digits of other scripts).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from learner.formats.errors import FormatError

DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
INTEGER = re.compile(r"\d+", re.ASCII)


def read_text(path: Path) -> str:
    """The text of a file: UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order
    mark, or else Latin-1, in which every byte is one character (the encoding of instrument
    exports such as RaMPP; digits, signs and separators read the same in all three).

    Raises
    ------
    FormatError
        The file cannot be read, is binary (a NUL byte outside UTF-16), or is UTF-16 that does
        not decode.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatError(f"cannot be read ({e.strerror or e})") from e
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise FormatError(f"UTF-16 text that does not decode (byte {e.start})") from e
    nul = data.find(b"\x00")
    if nul >= 0:
        raise FormatError(f"a binary file, not text (a NUL byte at offset {nul})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_decimal(text: str, what: str, where: str | None) -> float:
    """A finite decimal number written plainly.

    Raises
    ------
    FormatError
        Not a plain decimal (naming ``what`` and the place ``where``), or beyond float range.
    """
    cell = text.strip()
    if not DECIMAL.fullmatch(cell):
        raise FormatError(f"{what} {cell!r} is not a number", where)
    value = float(cell)
    if not math.isfinite(value):
        raise FormatError(f"{what} {cell} is beyond the range of a float", where)
    return value


def parse_index(text: str, what: str, where: str | None) -> int:
    """A non-negative integer written as plain digits.

    Raises
    ------
    FormatError
        Anything else (a sign, a decimal point, spaces inside, other scripts' digits).
    """
    cell = text.strip()
    if not INTEGER.fullmatch(cell):
        raise FormatError(f"{what} {cell!r} is not a non-negative integer", where)
    return int(cell)
