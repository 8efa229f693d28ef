"""Properties of the text readers: every input is read back exactly or rejected by name.

For each format, valid content is generated, written (in any of the encodings and separators
the format allows) and read back to the same values; and mutated content (truncated, bytes
inserted, numbers respelled as NaN, infinity, ``1_000``, negative or reversed) is either
rejected with a ``FormatError`` that names the line, or read to values that each come from a
plain decimal written on the line the reader cites — never reinterpreted.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from learner.formats import audio, crops, spectra
from learner.formats.errors import FormatError
from learner.formats.labels_csv import read_labels_csv

PLAIN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16")

seconds = st.floats(0, 36_000, allow_nan=False, allow_infinity=False)
hertz = st.floats(0, 96_000, allow_nan=False, allow_infinity=False)
label_text = (
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters='\t\\,"'),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(lambda s: s and not s.startswith("\\") and "\x85" not in s)
)

SCRATCH = tempfile.TemporaryDirectory(prefix="loupe-prop-")
"""One folder for every generated file of the module, removed when the run ends."""


def _written(content: str, encoding: str) -> Path:
    folder = Path(tempfile.mkdtemp(dir=SCRATCH.name))
    path = folder / "file.txt"
    path.write_bytes(content.encode(encoding))
    return path


MUTATIONS: dict[str, Callable[[str, int], str]] = {
    "truncate": lambda text, at: text[: at % (len(text) + 1)],
    "drop line": lambda text, at: "\n".join(
        line for i, line in enumerate(text.split("\n")) if i != at % max(1, text.count("\n") + 1)
    ),
    "insert garbage": lambda text, at: (
        text[: at % (len(text) + 1)] + 'x\t;,"' + text[at % (len(text) + 1) :]
    ),
    "nan": lambda text, at: _respell(text, at, "nan"),
    "infinity": lambda text, at: _respell(text, at, "inf"),
    "digit separator": lambda text, at: _respell(text, at, "1_000"),
    "huge": lambda text, at: _respell(text, at, "1e400"),
    "negative": lambda text, at: _respell(text, at, "-5"),
    "other digits": lambda text, at: _respell(text, at, "\u0661\u0662"),
    "decimal comma": lambda text, at: _respell(text, at, "1,5"),
    "swap numbers": lambda text, at: _swap_first_two(text, at),
}


def _respell(text: str, at: int, spelling: str) -> str:
    numbers = list(PLAIN.finditer(text))
    if not numbers:
        return text
    match = numbers[at % len(numbers)]
    return text[: match.start()] + spelling + text[match.end() :]


def _swap_first_two(text: str, at: int) -> str:
    lines = text.split("\n")
    i = at % len(lines)
    fields = lines[i].split("\t")
    if len(fields) >= 2:
        fields[0], fields[1] = fields[1], fields[0]
    lines[i] = "\t".join(fields)
    return "\n".join(lines)


mutation = st.tuples(st.sampled_from(sorted(MUTATIONS)), st.integers(0, 10_000))


def _assert_plain(cell: str, value: float) -> None:
    """``value`` was written plainly as ``cell``: the no-reinterpretation oracle."""
    assert PLAIN.fullmatch(cell.strip()), f"{cell!r} was read as {value!r}"
    assert float(cell) == value


# --- Audacity ------------------------------------------------------------------------------

spans_strategy = st.lists(
    st.tuples(seconds, seconds, label_text, st.one_of(st.none(), st.tuples(hertz, hertz))),
    min_size=1,
    max_size=8,
).map(lambda rows: [(min(a, b), max(a, b), lab, f and (min(f), max(f))) for a, b, lab, f in rows])


def _audacity_text(rows: list, separator: str) -> str:
    out = []
    for start, end, label, band in rows:
        out.append(f"{start!r}{separator}{end!r}{separator}{label}")
        if band is not None:
            out.append(f"\\{separator}{band[0]!r}{separator}{band[1]!r}")
    return "\n".join(out) + "\n"


@given(spans_strategy, st.sampled_from(ENCODINGS), st.sampled_from(["\t", " ", "   "]))
def test_audacity_round_trip(rows, encoding, separator) -> None:
    assume(separator == "\t" or all(" " not in r[2] or r[2] == r[2].strip() for r in rows))
    path = _written(_audacity_text(rows, separator), encoding)
    spans = audio.read_label_file(path)
    got = [(s.start_s, s.end_s, s.label, s.f_low_hz, s.f_high_hz) for s in spans]
    want = [(a, b, lab.strip(), *(f or (None, None))) for a, b, lab, f in rows]
    assert got == want


bad_label_line = st.sampled_from(
    ["start\tend\tx", "0.5\tsoon\tx", "2\t1\tx", "-1\t2\tx", "1\t2\tx\ty", "1_000\t2\tx", "nan"]
)


@given(spans_strategy, bad_label_line, st.integers(0, 8))
def test_audacity_bad_line_costs_that_line_only(rows, bad, at) -> None:
    lines = _audacity_text(rows, "\t").splitlines()
    # insert before a label line, so the bad line does not take a frequency line with it
    starts = [i for i, line in enumerate(lines) if not line.startswith("\\")] + [len(lines)]
    where = starts[at % len(starts)]
    lines.insert(where, bad)
    spans, errors = audio.audacity_spans(lines)
    assert [e.member for e in errors] == [f"line {where + 1}"]
    got = [(s.start_s, s.end_s, s.label, s.f_low_hz, s.f_high_hz) for s in spans]
    assert got == [(a, b, lab.strip(), *(f or (None, None))) for a, b, lab, f in rows]


@given(spans_strategy, mutation)
def test_audacity_mutated_is_read_plainly_or_rejected_by_line(rows, change) -> None:
    text = MUTATIONS[change[0]](_audacity_text(rows, "\t"), change[1])
    try:
        spans = audio.parse_audacity(text.splitlines())
    except FormatError as e:
        assert e.member is not None and e.member.startswith("line ")
        return
    lines = text.splitlines()
    for span in spans:
        fields = lines[span.line - 1].strip().split("\t")
        _assert_plain(fields[0], span.start_s)
        _assert_plain(fields[1], span.end_s)
        assert 0 <= span.start_s <= span.end_s


# --- Raven ---------------------------------------------------------------------------------

raven_columns = st.permutations(
    [
        "Selection",
        "View",
        "Channel",
        "Begin Time (s)",
        "End Time (s)",
        "Low Freq (Hz)",
        "High Freq (Hz)",
        "LABEL",
    ]
)


def _raven_text(
    header: list[str], label_name: str, rows: list, blank_first: bool, notes: bool = False
) -> str:
    names = [label_name if name == "LABEL" else name for name in header]
    out = ["", ""] if blank_first else []
    out.append("\t".join(names + (["Notes"] if notes else [])))
    for n, (start, end, label, band) in enumerate(rows, start=1):
        low, high = band if band is not None else (0.0, 0.0)
        values = {
            "Selection": str(n),
            "View": "Spectrogram 1",
            "Channel": "1",
            "Begin Time (s)": repr(start),
            "End Time (s)": repr(end),
            "Low Freq (Hz)": repr(low),
            "High Freq (Hz)": repr(high),
            "LABEL": label,
        }
        line = "\t".join(values[name] for name in header)
        out.append(line)  # with Notes, its empty field is left off, as editors strip it
    return "\n".join(out) + "\n"


@given(
    raven_columns,
    st.sampled_from(audio.RAVEN_LABEL_COLUMNS),
    spans_strategy,
    st.booleans(),
    st.booleans(),
    st.sampled_from(ENCODINGS),
)
def test_raven_round_trip(header, label_name, rows, blank_first, notes, encoding) -> None:
    path = _written(_raven_text(header, label_name.title(), rows, blank_first, notes), encoding)
    spans = audio.read_label_file(path)
    got = [(s.start_s, s.end_s, s.label, s.f_low_hz, s.f_high_hz) for s in spans]
    want = [(a, b, lab, *(f or (0.0, 0.0))) for a, b, lab, f in rows]
    assert got == want


@given(raven_columns, spans_strategy, mutation)
def test_raven_mutated_is_read_plainly_or_rejected_by_line(header, rows, change) -> None:
    text = MUTATIONS[change[0]](_raven_text(header, "Annotation", rows, False), change[1])
    try:
        spans = audio.parse_raven(text.splitlines())
    except FormatError as e:
        assert e.member is not None and e.member.startswith("line ")
        return
    if not spans:
        return
    lines = text.splitlines()
    names = [n.strip().lower() for n in next(x for x in lines if x.strip()).split("\t")]
    for span in spans:
        fields = lines[span.line - 1].split("\t")
        _assert_plain(fields[names.index("begin time (s)")], span.start_s)
        _assert_plain(fields[names.index("end time (s)")], span.end_s)
        assert 0 <= span.start_s <= span.end_s


# --- labels CSV and crop index --------------------------------------------------------------

file_names = (
    st.text(st.sampled_from('abcxyz019 _-.,"é'), min_size=1, max_size=10)
    .map(str.strip)
    .filter(lambda s: s not in ("", ".", ".."))
)


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@given(
    st.dictionaries(
        file_names, label_text.filter(lambda s: s == s.strip()), min_size=1, max_size=8
    ),
    st.sampled_from(ENCODINGS),
)
def test_labels_csv_round_trip(labels, encoding) -> None:
    path = _written(_csv_text(["file", "label"], [[f, lab] for f, lab in labels.items()]), encoding)
    table = read_labels_csv(path)
    assert table.errors == []
    for file, label in labels.items():
        assert table.label_for(path.parent / file) == label


@given(
    st.dictionaries(file_names, label_text, min_size=1, max_size=8),
    mutation,
    st.sampled_from(["utf-8", "latin-1", "utf-16-le", "cp1252"]),
)
def test_labels_csv_mutated_is_read_or_rejected_by_line(labels, change, encoding) -> None:
    text = MUTATIONS[change[0]](
        _csv_text(["file", "label"], [[f, lab] for f, lab in labels.items()]), change[1]
    )
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    path = _written("", "utf-8")
    path.write_bytes(data)
    try:
        table = read_labels_csv(path)
    except FormatError as e:
        assert str(path) in str(e)
        return
    for line, reason in table.errors:
        assert line >= 2 and reason
    seen: dict[Path, str] = {}
    for (target, _), row in table.rows.items():
        assert row.label and row.file and seen.setdefault(target, row.label) == row.label


@given(
    st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 10**6), label_text), max_size=8),
    mutation,
)
def test_crop_index_mutated_is_read_or_rejected_by_line(entries, change) -> None:
    rows = [["store.h5", name, str(i), lab] for name, i, lab in entries]
    text = MUTATIONS[change[0]](_csv_text(list(crops.INDEX_HEADER), rows), change[1])
    path = _written(text, "utf-8")
    try:
        good, errors = crops.read_crop_index(path)
    except FormatError as e:
        assert e.member is not None and e.member.startswith("line ")
        return
    assert all(e.member and e.member.startswith("line ") for e in errors)
    lines = text.splitlines()
    for row in good:
        assert row.index >= 0
        assert re.search(rf"(^|,){row.index}(,|$)", lines[row.line - 1])


@given(st.binary(max_size=300))
def test_crop_index_of_any_bytes_is_read_or_rejected(data) -> None:
    path = _written("", "utf-8")
    path.write_bytes(b"hdf5_file,dataset_name,index,label\n" + data)
    with contextlib.suppress(FormatError):
        crops.read_crop_index(path)


@given(st.binary(max_size=300))
def test_labels_csv_of_any_bytes_is_read_or_rejected(data) -> None:
    path = _written("", "utf-8")
    path.write_bytes(b"file,label\n" + data)
    with contextlib.suppress(FormatError):
        read_labels_csv(path)


# --- spectra -------------------------------------------------------------------------------

intensity = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)


@st.composite
def spectrum_tables(draw):  # type: ignore[no-untyped-def]
    points = draw(st.integers(spectra.MIN_POINTS, 40))
    start = draw(st.floats(-400, 5000))
    step = draw(st.floats(spectra.MIN_AXIS_SPAN / (points - 1) + 0.01, 100))
    axis = [start + i * step for i in range(points)]
    assume(axis[-1] <= spectra.AXIS_LIMITS[1])
    if draw(st.booleans()):
        axis.reverse()
    width = draw(st.integers(1, 4))
    columns = [draw(st.lists(intensity, min_size=points, max_size=points)) for _ in range(width)]
    header = draw(st.one_of(st.none(), st.just(["WN"] + [f"S{i}" for i in range(width)])))
    delimiter = draw(st.sampled_from([" ", "\t", ",", ";", ";decimal-comma"]))
    return axis, columns, header, delimiter


def _spectrum_text(axis, columns, header, delimiter) -> str:  # type: ignore[no-untyped-def]
    comma = delimiter == ";decimal-comma"
    sep = ";" if comma else delimiter

    def cell(value: float) -> str:
        return repr(value).replace(".", ",") if comma else repr(value)

    out = [sep.join(header)] if header else []
    for i, x in enumerate(axis):
        out.append(sep.join([cell(x)] + [cell(col[i]) for col in columns]))
    return "\n".join(out) + "\n"


@given(spectrum_tables(), st.sampled_from(ENCODINGS + ("latin-1",)))
def test_spectrum_round_trip(table, encoding) -> None:
    axis, columns, header, delimiter = table
    path = _written(_spectrum_text(axis, columns, header, delimiter), encoding)
    read = spectra.read_spectrum_table(path)
    assert read.errors == [] and len(read.columns) == len(columns)
    order = sorted(range(len(axis)), key=axis.__getitem__)
    for column, want in zip(read.columns, columns, strict=True):
        assert list(column.axis) == [axis[i] for i in order]
        assert list(column.intensity) == [want[i] for i in order]
        assert column.name == (
            header[column.position] if header else f"column {column.position + 1}"
        )


@given(spectrum_tables(), mutation)
def test_spectrum_mutated_is_read_plainly_or_rejected(table, change) -> None:
    axis, columns, header, delimiter = table
    text = MUTATIONS[change[0]](_spectrum_text(axis, columns, header, delimiter), change[1])
    path = _written(text, "utf-8")
    try:
        read = spectra.read_spectrum_table(path)
    except FormatError:
        return
    comma = delimiter == ";decimal-comma"
    tokens = {
        float(t.replace(",", ".") if comma else t)
        for t in re.split(r"[\s;]+" if comma else r"[\s;,]+", text)
        if PLAIN.fullmatch(t.replace(",", ".") if comma else t)
    }
    rows = [line for line in text.splitlines() if line.strip()]
    rows = (
        rows[1:]
        if header or not PLAIN.fullmatch(re.split(r"[\s;,]+", rows[0].strip())[0].replace(",", "."))
        else rows
    )
    for column in read.columns:
        assert len(column.axis) == len(rows), "a row was dropped without a word"
        assert set(column.axis) <= tokens and set(column.intensity) <= tokens
        assert all(math.isfinite(v) for v in column.intensity)


@given(st.lists(st.tuples(seconds, seconds, label_text), min_size=spectra.MIN_POINTS, max_size=30))
def test_audacity_track_is_never_a_spectrum(rows) -> None:
    from learner.formats.content import spectrum_content_problem

    rows = sorted((min(a, b), max(a, b), lab) for a, b, lab in rows)
    path = _written("".join(f"{a!r}\t{b!r}\t{lab}\n" for a, b, lab in rows), "utf-8")
    try:
        problem = spectrum_content_problem(path)
    except FormatError:
        return
    if problem is None:
        with pytest.raises(FormatError):
            spectra.read_spectrum_table(path)
