"""Recordings and the label files that lie beside them (Audacity label tracks, Raven tables)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import soundfile

from learner.formats.errors import FormatError
from learner.formats.text import parse_decimal, read_text

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


def _all_or_first_error(result: tuple[list[LabelSpan], list[FormatError]]) -> list[LabelSpan]:
    """The strict readers' rule over the lenient ones: every span, or the first line's error."""
    spans, errors = result
    if errors:
        raise errors[0]
    return spans


def read_label_file(path: Path) -> list[LabelSpan]:
    """Parse an Audacity label track or a Raven selection table, chosen by content.

    Raises
    ------
    FormatError
        The file does not parse; the message names the line.
    """
    return _all_or_first_error(read_label_spans(path))


def read_label_spans(path: Path) -> tuple[list[LabelSpan], list[FormatError]]:
    """The spans of an Audacity label track or a Raven selection table that parse, and one
    error per line that does not (naming it): a bad line costs that line, not the file.

    Raises
    ------
    FormatError
        The file cannot be decoded, or is a Raven table whose header lacks a needed column.
    """
    lines = read_text(path).splitlines()
    if is_raven_header(next((line for line in lines if line.strip()), "")):
        return raven_spans(lines)
    return audacity_spans(lines)


def is_raven_header(line: str) -> bool:
    """Whether a line is the header of a Raven selection table."""
    names = {name.strip().lower() for name in line.split("\t")}
    return {"begin time (s)", "end time (s)"} <= names


def parse_audacity(lines: list[str]) -> list[LabelSpan]:
    """Audacity label track: ``start end label`` lines, each optionally followed by a
    spectral line ``\\ f_low f_high``; tabs (as Audacity writes) or any whitespace between
    fields. Times are seconds, ``0 <= start <= end``; frequencies are Hz, ``0 <= low <= high``.

    Raises
    ------
    FormatError
        A line does not parse; the member names the line.
    """
    return _all_or_first_error(audacity_spans(lines))


def audacity_spans(lines: list[str]) -> tuple[list[LabelSpan], list[FormatError]]:
    """As :func:`parse_audacity`, but a line that does not parse is an error of its own and
    the other spans are kept. The frequency line of a label line that failed goes with it."""
    spans: list[LabelSpan] = []
    errors: list[FormatError] = []
    last_failed = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        where = f"line {number}"
        fields = line.split("\t") if "\t" in line else line.split(None, 2)
        fields = [field.strip() for field in fields]
        try:
            if fields[0] == "\\":
                if last_failed:
                    continue
                if not spans:
                    raise FormatError("a frequency line comes before any label", where)
                if len(fields) != 3:
                    raise FormatError(f"expected '\\ f_low f_high', found {raw!r}", where)
                low, high = _pair(fields[1], fields[2], where, "f_low", "f_high", "Hz")
                previous = spans[-1]
                spans[-1] = LabelSpan(
                    previous.start_s, previous.end_s, previous.label, previous.line, low, high
                )
                continue
            last_failed = True
            if len(fields) < 2 or len(fields) > 3:
                raise FormatError(
                    f"expected 'start end label' ({len(fields)} fields), found {raw!r}", where
                )
            start, end = _pair(fields[0], fields[1], where, "start", "end", "s")
            spans.append(LabelSpan(start, end, fields[2] if len(fields) > 2 else "", number))
            last_failed = False
        except FormatError as e:
            errors.append(e)
    return spans, errors


def parse_raven(lines: list[str]) -> list[LabelSpan]:
    """Raven selection table: tab-separated, with ``Begin Time (s)``, ``End Time (s)``, a label
    column, and ``Low Freq (Hz)``/``High Freq (Hz)`` when present. A row may lack trailing empty
    fields (editors strip them); a row with more fields than the header is an error.

    Raises
    ------
    FormatError
        The header lacks a needed column, or a row does not parse; the member names the line.
    """
    return _all_or_first_error(raven_spans(lines))


def raven_spans(lines: list[str]) -> tuple[list[LabelSpan], list[FormatError]]:
    """As :func:`parse_raven`, but a row that does not parse is an error of its own and the
    other rows are kept.

    Raises
    ------
    FormatError
        The header lacks a needed column.
    """
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        return [], []
    header_line, header_text = numbered[0]
    header = [name.strip().lower() for name in header_text.split("\t")]
    where = f"line {header_line}"
    try:
        begin, end = header.index("begin time (s)"), header.index("end time (s)")
    except ValueError as e:
        raise FormatError("a Raven table needs 'Begin Time (s)' and 'End Time (s)'", where) from e
    label_column = next((header.index(n) for n in RAVEN_LABEL_COLUMNS if n in header), None)
    if label_column is None:
        raise FormatError(f"no label column (one of: {', '.join(RAVEN_LABEL_COLUMNS)})", where)
    low = header.index("low freq (hz)") if "low freq (hz)" in header else None
    high = header.index("high freq (hz)") if "high freq (hz)" in header else None
    needed = max(i for i in (begin, end, label_column, low, high) if i is not None)
    spans: list[LabelSpan] = []
    errors: list[FormatError] = []
    for number, raw in numbered[1:]:
        where = f"line {number}"
        fields = raw.rstrip("\r\n").split("\t")
        fields += [""] * (len(header) - len(fields))
        try:
            if len(fields) > len(header) or len(fields) <= needed:
                raise FormatError(f"{len(fields)} fields where the header has {len(header)}", where)
            start_s, end_s = _pair(fields[begin], fields[end], where, "begin time", "end time", "s")
            f_low = f_high = None
            if (
                low is not None
                and high is not None
                and (fields[low].strip() or fields[high].strip())
            ):
                f_low, f_high = _pair(
                    fields[low], fields[high], where, "low frequency", "high frequency", "Hz"
                )
        except FormatError as e:
            errors.append(e)
            continue
        spans.append(LabelSpan(start_s, end_s, fields[label_column].strip(), number, f_low, f_high))
    return spans, errors


def _pair(
    first: str, second: str, where: str, first_name: str, second_name: str, unit: str
) -> tuple[float, float]:
    """Two numbers that bound an interval: both plain decimals, ``0 <= first <= second``."""
    a = parse_decimal(first, first_name, where)
    b = parse_decimal(second, second_name, where)
    if a < 0:
        raise FormatError(f"{first_name} {a:g} {unit} is negative", where)
    if b < a:
        raise FormatError(
            f"{second_name} {b:g} {unit} comes before {first_name} {a:g} {unit}", where
        )
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
