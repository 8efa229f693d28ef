"""Whether a file's content is of the project's kind, before it is read as such.

A label track is a table of numbers too: an Audacity track (``start end label``) read as a
spectrum gives "spectra" on an axis of seconds. The spectrum reader's own plausibility limits
(``spectra.MIN_POINTS``, ``spectra.MIN_AXIS_SPAN``, ``spectra.AXIS_LIMITS``) catch most such
files; this module names the label formats outright, so the reason says what the file is.
"""

from __future__ import annotations

from pathlib import Path

from learner.formats import audio
from learner.formats.errors import FormatError
from learner.formats.text import DECIMAL, read_text


def spectrum_content_problem(path: Path) -> str | None:
    """Why a file that should hold spectra is a label file instead, or ``None``.

    Raises
    ------
    FormatError
        The file cannot be read as text.
    """
    lines = read_text(path).splitlines()
    first = next((line for line in lines if line.strip()), "")
    if audio.is_raven_header(first):
        return "a Raven selection table (label file), not a spectrum"
    names = {name.strip().lower() for name in first.replace(";", ",").split(",")}
    if {"file", "label"} <= names:
        return "a labels CSV (columns file,label), not a spectrum"
    if _is_audacity_track(lines):
        return "an Audacity label track (start, end, label), not a spectrum"
    return None


def _is_audacity_track(lines: list[str]) -> bool:
    """Every line parses as an Audacity label or frequency line, and some label is text (a
    track whose labels are all numbers is a three-column table; the spectrum limits judge it)."""
    try:
        spans = audio.parse_audacity(lines)
    except FormatError:
        return False
    return bool(spans) and any(span.label and not DECIMAL.fullmatch(span.label) for span in spans)
