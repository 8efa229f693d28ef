"""Raman preprocessing, each step switchable: resample, baseline, smooth, normalise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class SpectrumConfig:
    """How a project turns a measured spectrum into a model input.

    Raises
    ------
    ValueError
        A setting out of its range (checked on construction).
    """

    resample: bool = True
    points: int = 500
    """Length of the uniform grid every spectrum is interpolated onto."""
    axis_min: float | None = None
    """Start of the project's grid in cm⁻¹; the spectrum's own start when unset."""
    axis_max: float | None = None
    """End of the project's grid in cm⁻¹; the spectrum's own end when unset."""
    baseline: bool = True
    baseline_degree: int = 2
    baseline_iterations: int = 40
    """Fit-and-clip rounds of the modified polyfit; 20–50 is enough for fluorescence."""
    smooth: bool = True
    smooth_window: int = 11
    """Savitzky–Golay window in points (odd); shrunk for spectra shorter than it."""
    smooth_order: int = 2
    normalise: bool = True

    def __post_init__(self) -> None:
        if self.points < 2:
            raise ValueError(f"points must be at least 2, got {self.points}")
        if (
            self.axis_min is not None
            and self.axis_max is not None
            and not self.axis_min < self.axis_max
        ):
            raise ValueError(f"axis_min {self.axis_min} must be below axis_max {self.axis_max}")
        if self.baseline_degree < 0:
            raise ValueError(f"baseline_degree must be 0 or more, got {self.baseline_degree}")
        if self.baseline_iterations < 1:
            raise ValueError(
                f"baseline_iterations must be at least 1, got {self.baseline_iterations}"
            )
        if self.smooth_order < 0:
            raise ValueError(f"smooth_order must be 0 or more, got {self.smooth_order}")
        if self.smooth_window <= self.smooth_order:
            raise ValueError(
                f"smooth_window {self.smooth_window} must exceed smooth_order {self.smooth_order}"
            )

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> SpectrumConfig:
        """A config from project settings; unknown keys are an error, not silently dropped.

        Raises
        ------
        ValueError
            An unknown key, or a value out of range.
        """
        values = dict(values or {})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown spectrum settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resample_uniform(
    axis: NDArray[np.float64],
    values: NDArray[np.float64],
    points: int,
    low: float | None = None,
    high: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Linear interpolation onto ``points`` evenly spaced positions over [low, high].

    Positions outside the measured range take the nearest measured value. Returns the grid
    and the values on it.
    """
    grid = np.linspace(axis[0] if low is None else low, axis[-1] if high is None else high, points)
    return grid, np.interp(grid, axis, values)


def remove_baseline(
    axis: NDArray[np.float64], values: NDArray[np.float64], degree: int, iterations: int
) -> NDArray[np.float64]:
    """Modified polyfit (Lieber & Mahadevan-Jansen 2003): fit, clip the signal to the fit,
    refit; the fit sinks under the peaks. Returns the signal minus the final fit.

    ``values`` may be one spectrum or a stack of rows on the same axis: the least-squares
    projection is built once and applied to every row, so a batch costs a few matrix products.
    """
    degree = min(degree, values.shape[-1] - 1)  # a polynomial needs more points than its degree
    x = (axis - axis.mean()) / (np.ptp(axis) or 1.0)  # conditioning for the polynomial
    basis = np.vander(x, degree + 1)  # (points, degree + 1)
    solve = np.linalg.pinv(basis).T  # (points, degree + 1): coefficients of a row = row @ solve
    target = np.array(values, dtype=np.float64, copy=True)
    for _ in range(iterations):
        np.minimum(target, (target @ solve) @ basis.T, out=target)
    return values - (target @ solve) @ basis.T


def smooth(values: NDArray[np.float64], window: int, order: int) -> NDArray[np.float64]:
    """Savitzky–Golay; the window shrinks to the longest odd length the spectrum allows, and
    a spectrum too short for any window above ``order`` is returned unchanged."""
    from scipy.signal import savgol_filter

    window = min(window, values.shape[-1])
    if window % 2 == 0:
        window -= 1
    if window <= order:
        return values
    return savgol_filter(values, window, order, axis=-1)


def normalise(values: NDArray[np.float64], tolerance: float = 0.0) -> NDArray[np.float64]:
    """Min–max to [0, 1]; a signal whose span is at most ``tolerance`` (a constant one, or the
    rounding left by baseline removal of one) becomes zeros, never NaN or amplified noise."""
    span = float(np.ptp(values))
    if span <= tolerance or not np.isfinite(span):
        return np.zeros_like(values)
    return (values - values.min()) / span


def _checked(
    axis: ArrayLike, intensity: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Axis and values as float arrays, ascending, after the checks every step relies on."""
    axis = np.asarray(axis, dtype=np.float64)
    values = np.asarray(intensity, dtype=np.float64)
    if axis.ndim != 1 or axis.shape != values.shape:
        raise ValueError(f"axis {axis.shape} and intensity {values.shape} must be equal 1-D")
    if len(axis) < 2:
        raise ValueError(f"a spectrum needs at least 2 points, got {len(axis)}")
    if not (np.isfinite(axis).all() and np.isfinite(values).all()):
        raise ValueError("the spectrum holds NaN or infinite values")
    if axis[0] > axis[-1]:  # instruments that write high wavenumbers first
        axis, values = axis[::-1], values[::-1]
    return axis, values


def preprocess_spectrum(
    axis: ArrayLike, intensity: ArrayLike, config: SpectrumConfig
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The configured steps, in order: resample, baseline, smooth, normalise.

    Returns
    -------
    tuple
        The (possibly new) axis, ascending, and the values on it.

    Raises
    ------
    ValueError
        Axis and intensity differ in length, hold fewer than two points, or are not finite.
    """
    axis, values = _checked(axis, intensity)
    scale = float(np.abs(values).max())
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


def preprocess_spectra(
    spectra: Sequence[tuple[ArrayLike, ArrayLike]], config: SpectrumConfig
) -> NDArray[np.float32]:
    """``preprocess_spectrum`` over ``(axis, intensity)`` pairs, stacked as model inputs; every
    step after resampling runs on the whole stack at once.

    Returns
    -------
    NDArray[np.float32]
        Shape (n, config.points).

    Raises
    ------
    ValueError
        ``config.resample`` is off (rows could differ in length), or a spectrum is invalid.
    """
    if not config.resample:
        raise ValueError("stacking spectra needs resample=True, so that all rows share a grid")
    if not spectra:
        return np.zeros((0, config.points), dtype=np.float32)
    rows = np.empty((len(spectra), config.points), dtype=np.float64)
    scales = np.empty(len(spectra))
    for row, (axis, intensity) in enumerate(spectra):
        axis, values = _checked(axis, intensity)
        _, rows[row] = resample_uniform(
            axis, values, config.points, config.axis_min, config.axis_max
        )
        scales[row] = float(np.abs(values).max())
    # every uniform grid of the same length normalises to the same polynomial basis
    grid = np.linspace(0.0, 1.0, config.points)
    if config.baseline:
        rows = remove_baseline(grid, rows, config.baseline_degree, config.baseline_iterations)
    if config.smooth:
        rows = smooth(rows, config.smooth_window, config.smooth_order)
    if config.normalise:
        low = rows.min(axis=1, keepdims=True)
        span = rows.max(axis=1, keepdims=True) - low
        flat = (span[:, 0] <= 1e-9 * scales) | ~np.isfinite(span[:, 0])
        rows = np.where(flat[:, None], 0.0, (rows - low) / np.where(flat[:, None], 1.0, span))
    return rows.astype(np.float32)
