"""Preprocessing: what a Raman tool, an audio front end and a crop loader must get right."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile
from numpy.typing import NDArray

from learner.augment import augment_batch
from learner.preprocess import (
    AudioConfig,
    SpectrumConfig,
    augment_crop,
    crop_tensor,
    decode_and_prepare,
    logmel,
    logmel_batch,
    preprocess_spectra,
    preprocess_spectrum,
    read_segment,
)
from learner.preprocess.spectrum import remove_baseline

ROOT = Path(__file__).resolve().parents[1]


def _lorentz(
    axis: NDArray[np.float64], centre: float, width: float, height: float
) -> NDArray[np.float64]:
    return height * width**2 / ((axis - centre) ** 2 + width**2)


def _spinetail(shared_data: Path) -> Path:
    return shared_data / "audio/spinetail/spinetail.wav"


# Spectra


def test_resampling_gives_a_uniform_grid() -> None:
    axis = np.sort(np.random.default_rng(0).uniform(100, 3000, 1600))
    grid, values = preprocess_spectrum(axis, np.sin(axis / 50), SpectrumConfig(points=500))
    assert len(grid) == len(values) == 500
    assert np.allclose(np.diff(grid), np.diff(grid)[0])
    assert grid[0] == axis[0] and grid[-1] == axis[-1]


def test_resampling_onto_the_project_range() -> None:
    axis = np.linspace(3000, 150, 900)  # written high wavenumbers first
    config = SpectrumConfig(points=300, axis_min=200, axis_max=2800, baseline=False)
    grid, values = preprocess_spectrum(axis, np.cos(axis / 80), config)
    assert grid[0] == 200 and grid[-1] == 2800 and len(values) == 300
    assert np.allclose(np.diff(grid), np.diff(grid)[0])


def test_baseline_removal_flattens_a_curved_baseline() -> None:
    axis = np.linspace(200, 3200, 1000)
    baseline = 2.0 + 1e-3 * axis + 4e-7 * (axis - 1500) ** 2
    peaks = (
        _lorentz(axis, 1000, 8, 3.0) + _lorentz(axis, 1450, 12, 2.0) + _lorentz(axis, 2900, 10, 4.0)
    )
    corrected = remove_baseline(axis, baseline + peaks, degree=2, iterations=40)
    away = np.abs(axis - 1000) > 150
    away &= np.abs(axis - 1450) > 150
    away &= np.abs(axis - 2900) > 150
    residual = np.abs(corrected[away] - peaks[away]).max()
    assert residual < 0.05 * np.abs(baseline[away] - baseline[away].mean()).max()
    assert corrected[np.argmin(np.abs(axis - 2900))] > 3.5  # the peak survives


def test_constant_spectrum_normalises_to_zeros() -> None:
    _, values = preprocess_spectrum(np.linspace(100, 2000, 50), np.full(50, 7.0), SpectrumConfig())
    assert not np.isnan(values).any() and np.all(values == 0)


def test_normalised_spectrum_spans_zero_to_one() -> None:
    axis = np.linspace(200, 1800, 700)
    _, values = preprocess_spectrum(axis, 1 + _lorentz(axis, 1000, 10, 5.0), SpectrumConfig())
    assert values.min() == 0 and values.max() == 1


def test_smoothing_window_longer_than_the_spectrum() -> None:
    config = SpectrumConfig(resample=False, baseline=False, smooth_window=51)
    for length in (12, 13, 3, 2):
        axis = np.arange(length, dtype=np.float64)
        _, values = preprocess_spectrum(axis, axis**2, config)
        assert len(values) == length and np.isfinite(values).all()


def test_batch_of_spectra_is_stacked_on_one_grid() -> None:
    rng = np.random.default_rng(1)
    spectra = [(np.linspace(100, 3000, n), rng.random(n)) for n in (400, 1024, 777)]
    x = preprocess_spectra(spectra, SpectrumConfig(points=256))
    assert x.shape == (3, 256) and x.dtype == np.float32


def test_spectrum_config_round_trips_through_a_dict() -> None:
    config = SpectrumConfig(points=800, axis_min=200.0, axis_max=1800.0, smooth=False)
    assert SpectrumConfig.from_dict(config.as_dict()) == config
    assert SpectrumConfig.from_dict(None) == SpectrumConfig()


def test_unknown_spectrum_setting_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown spectrum settings: window"):
        SpectrumConfig.from_dict({"window": 5})


def test_inverted_project_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="axis_min 1800 must be below axis_max 200"):
        SpectrumConfig(axis_min=1800, axis_max=200)


def test_spectrum_with_nan_is_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        preprocess_spectrum([1.0, 2.0, 3.0], [1.0, np.nan, 2.0], SpectrumConfig())


# Audio


def test_read_segment_resamples_only_the_span(shared_data: Path) -> None:
    path = _spinetail(shared_data)
    assert soundfile.info(str(path)).samplerate == 44100
    samples = read_segment(path, 1.0, 1.5, sample_rate=16000)
    assert samples.shape == (8000,) and samples.dtype == np.float32
    with_context = read_segment(path, 1.0, 1.5, sample_rate=16000, context_s=0.25)
    assert len(with_context) == 16000


def test_read_segment_clips_context_at_the_start(shared_data: Path) -> None:
    samples = read_segment(_spinetail(shared_data), 0.0, 0.5, sample_rate=16000, context_s=0.25)
    assert len(samples) == 12000


def test_span_outside_the_recording_is_rejected(shared_data: Path) -> None:
    with pytest.raises(ValueError, match="outside the recording"):
        read_segment(_spinetail(shared_data), 30.0, 31.0, sample_rate=16000)
    with pytest.raises(ValueError, match="empty span"):
        read_segment(_spinetail(shared_data), 2.0, 2.0, sample_rate=16000)


def test_logmel_has_a_fixed_shape(shared_data: Path) -> None:
    config = AudioConfig()
    segments = [
        read_segment(_spinetail(shared_data), 1.0, end, sample_rate=config.sample_rate)
        for end in (1.05, 1.4, 3.0)
    ]
    shapes = {
        logmel(s, config.sample_rate, **config.spectrogram_settings()).shape for s in segments
    }
    assert shapes == {(config.n_mels, config.frames)} == {(64, 63)}
    batch = logmel_batch(segments, config.sample_rate)
    assert batch.shape == (3, 64, 63) and batch.dtype == np.float32
    assert np.allclose(batch[1], logmel(segments[1], config.sample_rate))
    assert batch.max() == 0 and batch.min() >= -80  # dB below each clip's peak


def test_audio_config_round_trips_and_rejects_unknown_keys() -> None:
    config = AudioConfig(sample_rate=22050, duration_s=2.0)
    assert AudioConfig.from_dict(config.as_dict()) == config
    with pytest.raises(ValueError, match="unknown audio settings: rate"):
        AudioConfig.from_dict({"rate": 8000})


# Crops


def test_crop_tensor_is_a_unit_range_square() -> None:
    image = np.random.default_rng(2).integers(0, 256, (57, 41, 3), dtype=np.uint8)
    x = crop_tensor(image, 32)
    assert x.shape == (32, 32) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1


def test_augmentation_leaves_no_black_corners() -> None:
    white = np.full((45, 37), 255, np.uint8)
    rng = np.random.default_rng(0)
    views = [augment_crop(white, rng) for _ in range(50)]
    assert all(v.shape == (32, 32) for v in views)
    assert min(v.min() for v in views) > 200


def test_augmentation_rotates() -> None:
    image = np.zeros((32, 32), np.uint8)
    image[:, 14:18] = 255  # a vertical bar
    views = [augment_crop(image, np.random.default_rng(seed)) for seed in range(5)]
    assert any(not np.array_equal(views[0], v) for v in views[1:])


def test_batch_augmentation_leaves_no_black_corners() -> None:
    white = np.ones((8, 32, 32), np.float32)
    out = augment_batch(white, np.random.default_rng(0))
    assert out.shape == white.shape and out.min() > 0.78  # 200 / 255


def test_crop_decode_of_real_entry_and_garbage(shared_data: Path) -> None:
    with h5py.File(shared_data / "crops/piped/piped_dev.h5") as store:
        name = next(iter(store))
        blob = np.asarray(store[name][0]).tobytes()
    x, failures = decode_and_prepare([blob, b"\x00garbage", blob], 32)
    assert x.shape == (2, 32, 32) and x.min() >= 0 and x.max() <= 1
    assert failures == [(1, "not a decodable image (neither a JPEG nor a PNG signature, 8 bytes)")]


def test_preprocessing_imports_without_torch() -> None:
    code = "import sys, learner.preprocess; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
