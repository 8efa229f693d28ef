"""Readers of the file formats, on the variants users bring."""

from __future__ import annotations

import numpy as np
import pytest

from learner.formats import audio, spectra
from learner.formats.errors import FormatError


def test_audacity_tabs_spaces_and_spectral_lines() -> None:
    lines = ["0.5\t1.25\tSP", "\\\t100.0\t2000.5", "2 3 two words", "", "4.0   5.0   x"]
    spans = audio.parse_audacity(lines)
    assert [(s.start_s, s.end_s, s.label) for s in spans] == [
        (0.5, 1.25, "SP"),
        (2.0, 3.0, "two words"),
        (4.0, 5.0, "x"),
    ]
    assert (spans[0].f_low_hz, spans[0].f_high_hz) == (100.0, 2000.5)
    assert spans[1].f_low_hz is None


def test_audacity_frequency_line_first_is_rejected() -> None:
    with pytest.raises(FormatError, match="line 1: a frequency line comes before any label"):
        audio.parse_audacity(["\\\t1\t2"])


def test_raven_selection_table(tmp_path) -> None:
    path = tmp_path / "rec.Table.1.selections.txt"
    path.write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\t"
        "Low Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"
        "1\tSpectrogram 1\t1\t0.5\t0.9\t300\t4000\tsparrow\n"
        "2\tSpectrogram 1\t1\t1.5\t2.0\t200\t3000\twren\n"
    )
    spans = audio.read_label_file(path)
    assert [(s.start_s, s.end_s, s.label, s.f_low_hz, s.line) for s in spans] == [
        (0.5, 0.9, "sparrow", 300.0, 2),
        (1.5, 2.0, "wren", 200.0, 3),
    ]
    (tmp_path / "rec.wav").touch()
    assert audio.find_label_file(tmp_path / "rec.wav") == path


def test_raven_without_label_column_is_rejected() -> None:
    with pytest.raises(FormatError, match="no label column"):
        audio.parse_raven(["Begin Time (s)\tEnd Time (s)", "0\t1"])


def test_semicolon_matrix_with_decimal_commas_and_header(tmp_path) -> None:
    rows = ["WN;a ;b;"] + [f"{1000 - 10 * i},0;{i},5;{2 * i},25;" for i in range(12)]
    path = tmp_path / "m.csv"
    path.write_text("\n".join(rows), encoding="latin-1")
    table = spectra.read_spectrum_table(path)
    assert [c.name for c in table.columns] == ["a", "b"] and table.skipped_empty == 1
    first = table.columns[0]
    assert first.axis[0] == 890.0 and np.all(np.diff(first.axis) > 0)  # reversed to increasing
    assert first.intensity[-1] == 0.5 and table.columns[1].intensity[0] == 22.25


def test_comma_separated_two_columns_with_header(tmp_path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("shift,intensity\n" + "\n".join(f"{200 + 10 * i},{i * i}" for i in range(20)))
    table = spectra.read_spectrum_table(path)
    assert not table.is_matrix and table.columns[0].intensity[3] == 9.0


def test_axis_beyond_raman_range_is_rejected(tmp_path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("\n".join(f"{20000 + i} {i}" for i in range(20)))
    with pytest.raises(FormatError, match="outside -500–10000"):
        spectra.read_spectrum_table(path)


def test_infinite_intensity_is_rejected() -> None:
    values = np.ones(20)
    values[3] = np.inf
    with pytest.raises(FormatError, match="1 infinite intensity"):
        spectra.validate_intensity(values)
