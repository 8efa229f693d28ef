"""Synthetic generators: files readable by the project's own readers, classes present and
distinguishable where promised, and the same seed giving the same bytes."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import soundfile

from learner.formats.audio import check_span, read_label_file, recording_info
from learner.formats.crops import list_crop_datasets, read_crop_index
from learner.formats.spectra import read_spectrum_table
from learner.synthetic import (
    AUDIO_CLASSES,
    CROP_CLASSES,
    SPECTRUM_CLASSES,
    raman_spectrum,
    render_crop,
    write_crop_store,
    write_recordings,
    write_spectra,
)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))}


# --- audio -----------------------------------------------------------------------------------


def test_recordings_are_readable_and_labels_lie_inside(tmp_path: Path) -> None:
    wavs = write_recordings(tmp_path, 10, seed=3, duration_s=4.0, sample_rate=16000)
    assert [w.name for w in wavs] == [f"rec_{i:04d}.wav" for i in range(10)]
    seen = set()
    for wav in wavs:
        audio, sample_rate = soundfile.read(wav)
        assert sample_rate == 16000 and audio.ndim == 1 and len(audio) == 4 * 16000
        assert soundfile.info(str(wav)).subtype == "PCM_16"
        assert np.abs(audio).max() < 1.0
        duration = recording_info(wav).duration_s
        spans = read_label_file(wav.with_suffix(".txt"))
        for span in spans:
            check_span(span, duration)
            assert span.label in AUDIO_CLASSES
            if span.label == "harmonic":
                assert span.f_low_hz is not None and span.f_high_hz is not None
                assert 0 < span.f_low_hz < span.f_high_hz < sample_rate / 2
            else:
                assert span.f_low_hz is None
        starts = [s.start_s for s in spans]
        assert starts == sorted(starts)
        assert all(a.end_s < b.start_s for a, b in zip(spans, spans[1:], strict=False))
        seen.update(s.label for s in spans)
    assert seen == set(AUDIO_CLASSES)


def test_label_lines_use_the_audacity_format(tmp_path: Path) -> None:
    wavs = write_recordings(tmp_path, 4, seed=0, duration_s=3.0)
    lines = [line for w in wavs for line in w.with_suffix(".txt").read_text().splitlines()]
    for line in lines:
        fields = line.split("\t")
        assert len(fields) == 3
        # A label line is start, end, label; a spectral line is a backslash, f_low, f_high.
        numbers = fields[1:] if fields[0] == "\\" else fields[:2]
        assert all(len(number.split(".")[1]) == 6 for number in numbers)
    assert any(line.startswith("\\\t") for line in lines)


def test_recordings_are_seeded(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_recordings(tmp_path / name, 2, seed=seed, duration_s=2.5)
    a, b, c = (_tree_bytes(tmp_path / n) for n in "abc")
    assert a == b
    assert a != c


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_recordings": -1},
        {"duration_s": 1.0},
        {"sample_rate": 4000},
        {"events_per_recording": (5, 2)},
        {"events_per_recording": (-1, 2)},
    ],
)
def test_recordings_reject_bad_arguments(tmp_path: Path, kwargs: dict) -> None:
    arguments = {"n_recordings": 1} | kwargs
    with pytest.raises(ValueError):
        write_recordings(tmp_path, arguments.pop("n_recordings"), **arguments)


# --- spectra ---------------------------------------------------------------------------------


def _without_baseline(axis: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """Iterative polynomial baseline (the 'modpoly' method): refit under the clipped signal."""
    x = (axis - axis.mean()) / np.ptp(axis)
    floor = intensity.copy()
    for _ in range(50):
        fitted = np.polyval(np.polyfit(x, floor, 5), x)
        floor = np.minimum(floor, fitted)
    return intensity - fitted


def test_spectra_files_and_the_carbonyl_band(tmp_path: Path) -> None:
    paths = write_spectra(tmp_path, 60, seed=2, n_points=800, weathered_fraction=0.5)
    names = [p.name for p in paths]
    assert sum(n.startswith("wea-") for n in names) == 30
    assert all(
        n[:4] in ("sta-", "wea-") and n.endswith(f"{i:05d}.txt") for i, n in enumerate(names)
    )
    scores: dict[str, list[float]] = {label: [] for label in SPECTRUM_CLASSES}
    for path in paths:
        rows = path.read_text().splitlines()
        assert len(rows) == 800
        assert rows[0].split() == ["200.0000", rows[0].split()[1]]
        table = read_spectrum_table(path)
        assert len(table.columns) == 1 and not table.errors
        axis, intensity = table.columns[0].axis, table.columns[0].intensity
        assert axis[0] == pytest.approx(200.0) and axis[-1] == pytest.approx(3200.0)
        corrected = _without_baseline(axis, intensity)
        band = (axis > 1695) & (axis < 1735)
        label = "weathered" if path.name.startswith("wea-") else "stable"
        scores[label].append(float(corrected[band].mean() / corrected.max()))
    assert np.mean(scores["weathered"]) > 2 * np.mean(scores["stable"])


def test_raman_spectrum_is_seeded_and_rejects_a_bad_axis() -> None:
    axis = np.linspace(200.0, 3200.0, 300)
    first = raman_spectrum(np.random.default_rng(1), axis, weathered=True)
    again = raman_spectrum(np.random.default_rng(1), axis, weathered=True)
    other = raman_spectrum(np.random.default_rng(2), axis, weathered=True)
    assert first.shape == axis.shape
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    with pytest.raises(ValueError):
        raman_spectrum(np.random.default_rng(1), axis[::-1], weathered=False)


def test_spectra_are_seeded(tmp_path: Path) -> None:
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        write_spectra(tmp_path / name, 4, seed=seed, n_points=50)
    a, b, c = (_tree_bytes(tmp_path / n) for n in "abc")
    assert a == b
    assert a != c


@pytest.mark.parametrize(
    "kwargs",
    [{"n_points": 5}, {"axis_range": (3000.0, 200.0)}, {"weathered_fraction": 1.5}],
)
def test_spectra_reject_bad_arguments(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        write_spectra(tmp_path, 1, **kwargs)


# --- crops -----------------------------------------------------------------------------------


def test_crop_store_decodes_and_matches_its_index(tmp_path: Path) -> None:
    h5_path, csv_path = write_crop_store(
        tmp_path, 301, seed=4, size=24, datasets=3, labelled_fraction=0.5, chunk=70
    )
    assert h5_path == tmp_path / "spatter.h5" and csv_path == tmp_path / "index.csv"
    datasets, errors = list_crop_datasets(h5_path)
    assert not errors
    lengths = {d.name: d.length for d in datasets}
    assert lengths == {"video_000": 101, "video_001": 100, "video_002": 100}

    with csv_path.open(newline="") as f:
        assert next(csv.reader(f)) == ["hdf5_file", "dataset_name", "index", "label"]
    rows, row_errors = read_crop_index(csv_path)
    assert len(rows) == 301 and not row_errors
    assert all(
        r.hdf5_file == h5_path.resolve() and 0 <= r.index < lengths[r.dataset_name] for r in rows
    )
    assert len({(r.dataset_name, r.index) for r in rows}) == 301
    labels = [r.label for r in rows if r.label]
    assert len(labels) == round(301 * 0.5)
    assert set(labels) == set(CROP_CLASSES)

    with h5py.File(h5_path, "r") as store:
        for name in lengths:
            dataset = store[name]
            assert dataset.maxshape == (None,)
            assert h5py.check_vlen_dtype(dataset.dtype) == np.dtype(np.uint8)
            for entry in dataset[:]:
                image = cv2.imdecode(entry, cv2.IMREAD_UNCHANGED)
                assert image.shape == (24, 24) and image.dtype == np.uint8


def test_crop_classes_differ_in_how_much_is_bright(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    bright = {
        label: np.mean([(render_crop(rng, label, 32) > 90).mean() for _ in range(200)])
        for label in CROP_CLASSES
    }
    assert bright["large_spatter"] > bright["small_spatter"]


def test_crop_store_is_seeded(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write_crop_store(tmp_path / name, 50, seed=seed, datasets=2, chunk=20)
    a, b, c = (_tree_bytes(tmp_path / n) for n in "abc")
    assert a == b
    assert a["spatter.h5"] != c["spatter.h5"] and a["index.csv"] != c["index.csv"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 4},
        {"datasets": 0},
        {"chunk": 0},
        {"labelled_fraction": -0.1},
        {"file_name": "sub/spatter.h5"},
        {"file_name": "spatter.csv"},
    ],
)
def test_crop_store_rejects_bad_arguments(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        write_crop_store(tmp_path, 10, **kwargs)


def test_render_crop_rejects_an_unknown_class() -> None:
    with pytest.raises(ValueError):
        render_crop(np.random.default_rng(0), "huge_spatter", 32)
