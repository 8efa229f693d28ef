"""Preprocessing: what a Raman tool, an audio front end and a crop loader must get right."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from learner.augment import augment_batch
from learner.preprocess.audio import AudioConfig, logmel, read_segment
from learner.preprocess.crop import decode_and_prepare
from learner.preprocess.spectrum import SpectrumConfig, preprocess_spectrum, remove_baseline


def _lorentz(axis, centre, width, height):  # type: ignore[no-untyped-def]
    return height * width**2 / ((axis - centre) ** 2 + width**2)


def test_resampling_gives_a_uniform_grid() -> None:
    axis = np.sort(np.random.default_rng(0).uniform(100, 3000, 1600))
    grid, values = preprocess_spectrum(axis, np.sin(axis / 50), SpectrumConfig(points=500))
    assert len(grid) == len(values) == 500
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


def test_smoothing_window_longer_than_the_spectrum() -> None:
    config = SpectrumConfig(resample=False, baseline=False, smooth_window=51)
    _, values = preprocess_spectrum(np.arange(12.0), np.arange(12.0) ** 2, config)
    assert len(values) == 12 and np.isfinite(values).all()


def test_unknown_spectrum_setting_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown spectrum settings: window"):
        SpectrumConfig.from_dict({"window": 5})


def test_read_segment_resamples_only_the_span(shared_data) -> None:
    samples = read_segment(
        shared_data / "audio/spinetail/spinetail.wav", 1.0, 1.5, sample_rate=16000
    )
    assert len(samples) == 8000 and samples.dtype == np.float32


def test_logmel_has_a_fixed_shape(shared_data) -> None:
    config = AudioConfig()
    shapes = {
        logmel(
            read_segment(
                shared_data / "audio/spinetail/spinetail.wav", 1.0, end, sample_rate=16000
            ),
            16000,
        ).shape
        for end in (1.05, 1.4, 3.0)
    }
    assert shapes == {(config.n_mels, 63)}


def test_augmentation_leaves_no_black_corners() -> None:
    white = np.ones((8, 32, 32), np.float32)
    out = augment_batch(white, np.random.default_rng(0))
    assert out.shape == white.shape and out.min() > 0.78  # 200 / 255


def test_crop_decode_of_real_entry_and_garbage(shared_data) -> None:
    with h5py.File(shared_data / "crops/piped/piped_dev.h5") as store:
        name = next(iter(store))
        blob = np.asarray(store[name][0]).tobytes()
    x, failures = decode_and_prepare([blob, b"\x00garbage", blob], 32)
    assert x.shape == (2, 32, 32) and x.min() >= 0 and x.max() <= 1
    assert failures == [(1, "not a decodable image (neither a JPEG nor a PNG signature, 8 bytes)")]
