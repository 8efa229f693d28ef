"""Raman preprocessing, each step switchable: resample, baseline, smooth, normalise."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class SpectrumConfig:
    resample: bool = True
    points: int = 500
    axis_min: float | None = None
    """Start of the project's grid in cm⁻¹; the spectrum's own start when unset."""
    axis_max: float | None = None
    baseline: bool = True
    baseline_degree: int = 2
    baseline_iterations: int = 40
    smooth: bool = True
    smooth_window: int = 11
    smooth_order: int = 2
    normalise: bool = True

    @classmethod
    def from_dict(cls, values: dict | None) -> SpectrumConfig:
        """A config from project settings; unknown keys are an error, not silently dropped."""
        values = dict(values or {})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown spectrum settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


def resample_uniform(
    axis: NDArray[np.float64],
    values: NDArray[np.float64],
    points: int,
    low: float | None = None,
    high: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Linear interpolation onto ``points`` evenly spaced positions over [low, high]."""
    grid = np.linspace(axis[0] if low is None else low, axis[-1] if high is None else high, points)
    return grid, np.interp(grid, axis, values)


def remove_baseline(
    axis: NDArray[np.float64], values: NDArray[np.float64], degree: int, iterations: int
) -> NDArray[np.float64]:
    """Modified polyfit: fit, clip the signal to the fit, refit; the fit sinks under the peaks."""
    x = (axis - axis.mean()) / (np.ptp(axis) or 1.0)  # conditioning for the polynomial
    target = values.copy()
    for _ in range(iterations):
        fitted = np.polyval(np.polyfit(x, target, degree), x)
        target = np.minimum(target, fitted)
    return values - np.polyval(np.polyfit(x, target, degree), x)


def smooth(values: NDArray[np.float64], window: int, order: int) -> NDArray[np.float64]:
    """Savitzky–Golay; the window shrinks to the longest odd length the spectrum allows."""
    from scipy.signal import savgol_filter

    window = min(window, len(values) if len(values) % 2 else len(values) - 1)
    if window <= order:
        return values
    return savgol_filter(values, window, order)


def normalise(values: NDArray[np.float64], tolerance: float = 0.0) -> NDArray[np.float64]:
    """Min–max to [0, 1]; a signal whose span is at most ``tolerance`` (a constant one, or the
    rounding left by baseline removal of one) becomes zeros, never NaN or amplified noise."""
    span = float(np.ptp(values))
    if span <= tolerance or not np.isfinite(span):
        return np.zeros_like(values)
    return (values - values.min()) / span


def preprocess_spectrum(
    axis: NDArray[np.float64], intensity: NDArray[np.float64], config: SpectrumConfig
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The configured steps, in order; returns the (possibly new) axis and the values."""
    axis = np.asarray(axis, dtype=np.float64)
    values = np.asarray(intensity, dtype=np.float64)
    scale = float(np.abs(values).max()) if len(values) else 0.0
    if config.resample:
        axis, values = resample_uniform(
            axis, values, config.points, config.axis_min, config.axis_max
        )
    if config.baseline:
        values = remove_baseline(axis, values, config.baseline_degree, config.baseline_iterations)
    if config.smooth:
        values = smooth(values, config.smooth_window, config.smooth_order)
    if config.normalise:
        values = normalise(values, tolerance=1e-9 * scale)
    return axis, values
