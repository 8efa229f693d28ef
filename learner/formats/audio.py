"""Recordings and the label files that lie beside them (Audacity label tracks, Raven tables)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import soundfile

from learner.formats.errors import FormatError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
RAVEN_LABEL_COLUMNS = ("annotation", "label", "class", "species", "sound type", "call type")


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    sample_rate: int
    frames: int
    channels: int
    format: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


@dataclass(frozen=True, slots=True)
class LabelSpan:
    """One labelled span of a recording; ``line`` is where it was read, for messages."""

    start_s: float
    end_s: float
    label: str
    line: int
    f_low_hz: float | None = None
    f_high_hz: float | None = None


def recording_info(path: Path) -> RecordingInfo:
    """Header facts of a recording, after checking that every frame it promises is there.

    Raises
    ------
    FormatError
        Not a readable recording, or truncated.
    """
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise FormatError(f"not a readable audio file ({_libsndfile_reason(e)})") from e
    if info.frames <= 0:
        raise FormatError("the recording holds no audio frames")
    if info.format == "WAV":
        _check_wav_length(path, info.channels)
    try:
        with soundfile.SoundFile(str(path)) as sound:
            sound.seek(max(0, sound.frames - 2048))
            tail = sound.read(2048)
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise FormatError(
            f"the audio cannot be decoded to its end ({_libsndfile_reason(e)})"
        ) from e
    if len(tail) == 0:
        raise FormatError("the audio cannot be decoded to its end")
    return RecordingInfo(info.samplerate, info.frames, info.channels, info.format)


def _libsndfile_reason(error: Exception) -> str:
    text = str(error)
    return text.split(": ", 1)[-1] if ": " in text else text


def _check_wav_length(path: Path, channels: int) -> None:
    """libsndfile quietly shortens a truncated WAV; compare its data chunk with the bytes there."""
    size = path.stat().st_size
    with path.open("rb") as f:
        header = f.read(12)
        if header[:4] not in (b"RIFF", b"RF64") or header[8:12] != b"WAVE":
            return
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                available = size - offset - 8
                if chunk_size != 0xFFFFFFFF and chunk_size > available:
                    raise FormatError(
                        f"truncated: the header declares {chunk_size} bytes of audio "
                        f"but the file holds {available}"
                    )
                return
            offset += 8 + chunk_size + (chunk_size & 1)


def find_label_file(recording: Path) -> Path | None:
    """The label file beside a recording: ``NAME.txt`` (Audacity) or ``NAME*.selections.txt``."""
    audacity = recording.with_suffix(".txt")
    if audacity.is_file():
        return audacity
    raven = sorted(recording.parent.glob(f"{recording.stem}*.selections.txt"))
    return raven[0] if raven else None


def read_label_file(path: Path) -> list[LabelSpan]:
    """Parse an Audacity label track or a Raven selection table, chosen by content.

    Raises
    ------
    FormatError
        The file does not parse; the message names the line.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if "begin time" in first.lower():
        return parse_raven(lines)
    return parse_audacity(lines)


def parse_audacity(lines: list[str]) -> list[LabelSpan]:
    """Audacity label track: ``start end label`` lines, each optionally followed by a
    spectral line ``\\ f_low f_high``; tabs or any whitespace between fields."""
    spans: list[LabelSpan] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.split("\t") if "\t" in line else line.split(None, 2)
        fields = [field.strip() for field in fields]
        if fields[0] == "\\":
            if not spans:
                raise FormatError("a frequency line comes before any label", f"line {number}")
            low, high = _numbers(fields[1:3], number, "f_low and f_high")
            spans[-1] = LabelSpan(
                spans[-1].start_s, spans[-1].end_s, spans[-1].label, spans[-1].line, low, high
            )
            continue
        if len(fields) < 2:
            raise FormatError(f"expected 'start end label', found {raw!r}", f"line {number}")
        start, end = _numbers(fields[:2], number, "start and end")
        label = fields[2].strip() if len(fields) > 2 else ""
        spans.append(LabelSpan(start, end, label, number))
    return spans


def parse_raven(lines: list[str]) -> list[LabelSpan]:
    """Raven selection table: tab-separated, with ``Begin Time (s)``, ``End Time (s)``, a label
    column, and ``Low Freq (Hz)``/``High Freq (Hz)`` when present."""
    header = [name.strip().lower() for name in lines[0].split("\t")]
    try:
        begin, end = header.index("begin time (s)"), header.index("end time (s)")
    except ValueError as e:
        raise FormatError(
            "a Raven table needs 'Begin Time (s)' and 'End Time (s)'", "line 1"
        ) from e
    label_column = next((header.index(n) for n in RAVEN_LABEL_COLUMNS if n in header), None)
    if label_column is None:
        raise FormatError(f"no label column (one of: {', '.join(RAVEN_LABEL_COLUMNS)})", "line 1")
    low = header.index("low freq (hz)") if "low freq (hz)" in header else None
    high = header.index("high freq (hz)") if "high freq (hz)" in header else None
    spans = []
    for number, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue
        fields = raw.split("\t")
        if len(fields) < len(header):
            raise FormatError(
                f"{len(fields)} fields where the header has {len(header)}", f"line {number}"
            )
        start_s, end_s = _numbers([fields[begin], fields[end]], number, "begin and end time")
        f_low = f_high = None
        if low is not None and high is not None:
            f_low, f_high = _numbers([fields[low], fields[high]], number, "low and high frequency")
        spans.append(LabelSpan(start_s, end_s, fields[label_column].strip(), number, f_low, f_high))
    return spans


def _numbers(fields: list[str], line: int, what: str) -> tuple[float, float]:
    if len(fields) < 2:
        raise FormatError(f"expected {what}, found {' '.join(fields)!r}", f"line {line}")
    try:
        a, b = float(fields[0]), float(fields[1])
    except ValueError as e:
        raise FormatError(
            f"{what} must be numbers, found {fields[0]!r} and {fields[1]!r}", f"line {line}"
        ) from e
    if a != a or b != b:
        raise FormatError(f"{what} must be numbers, found NaN", f"line {line}")
    return a, b


def check_span(span: LabelSpan, duration_s: float) -> None:
    """Raise ``FormatError`` for a span that is empty, negative or passes the recording's end."""
    where = f"line {span.line}"
    if not span.label:
        raise FormatError("the span has no label", where)
    if span.start_s < 0 or span.end_s <= span.start_s:
        raise FormatError(f"span {span.start_s:g}–{span.end_s:g} s is empty or negative", where)
    if span.end_s > duration_s + 1e-3:
        raise FormatError(
            f"span {span.start_s:g}–{span.end_s:g} s passes the end of the recording "
            f"({duration_s:.3f} s)",
            where,
        )
