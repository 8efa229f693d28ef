"""Synthetic Raman spectra of plastics, stable or weathered, as two-column text files.

A spectrum is a handful of pseudo-Voigt peaks taken from one of a few polymer templates, on a
curved baseline (a low-order polynomial plus a broad fluorescence hump), with noise. Weathering
adds a carbonyl band near 1715 cm⁻¹, broadens the peaks and lifts the baseline; the carbonyl
band is sometimes weak, and PET has its own ester carbonyl at 1726 cm⁻¹, so the classes overlap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

SPECTRUM_CLASSES = ("stable", "weathered")
FILE_PREFIXES = {"stable": "sta", "weathered": "wea"}

# (position cm⁻¹, half width at half maximum cm⁻¹, relative height), after published Raman
# bands of each polymer; only a plausible shape matters here, not exact assignments.
# fmt: off
POLYMER_TEMPLATES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "polyethylene": (
        (1063, 6, 0.55), (1130, 5, 0.5), (1295, 6, 0.7), (1440, 9, 0.8),
        (1460, 7, 0.45), (2725, 12, 0.08), (2848, 9, 1.0), (2882, 10, 0.85),
    ),
    "polypropylene": (
        (398, 6, 0.25), (809, 5, 0.6), (841, 5, 0.55), (973, 5, 0.3), (1152, 6, 0.3),
        (1330, 7, 0.35), (1458, 9, 0.55), (2840, 10, 0.6), (2883, 10, 0.8), (2952, 10, 1.0),
    ),
    "polystyrene": (
        (620, 4, 0.3), (1001, 3, 1.0), (1031, 4, 0.35), (1155, 5, 0.2), (1583, 5, 0.15),
        (1602, 5, 0.45), (2905, 12, 0.25), (3054, 7, 0.7),
    ),
    "polyethylene_terephthalate": (
        (632, 5, 0.3), (857, 5, 0.3), (1096, 6, 0.35), (1286, 7, 0.45), (1615, 6, 1.0),
        (1726, 9, 0.55), (2960, 12, 0.15), (3080, 10, 0.2),
    ),
    "polyvinyl_chloride": (
        (363, 8, 0.3), (637, 7, 0.85), (694, 7, 1.0), (1100, 10, 0.25), (1335, 9, 0.4),
        (1430, 9, 0.45), (2912, 12, 0.9), (2970, 10, 0.4),
    ),
}
# fmt: on
PEAKS_PER_SPECTRUM = (4, 9)
CARBONYL_CM = 1715.0
MIN_POINTS = 10


def pseudo_voigt(
    axis: NDArray[np.float64], centre: float, hwhm: float, height: float, eta: float
) -> NDArray[np.float64]:
    """A peak mixing a Lorentzian (weight ``eta``) and a Gaussian of the same half width.

    Returns
    -------
    NDArray[np.float64]
        The peak on ``axis``, ``height`` at ``centre``.
    """
    offset = (axis - centre) / hwhm
    lorentzian = 1.0 / (1.0 + offset**2)
    gaussian = np.exp(-np.log(2.0) * offset**2)
    return height * (eta * lorentzian + (1.0 - eta) * gaussian)


def raman_spectrum(
    rng: np.random.Generator, axis: NDArray[np.float64], *, weathered: bool
) -> NDArray[np.float64]:
    """One synthetic spectrum on ``axis`` (cm⁻¹), in detector counts.

    The polymer is drawn at random from ``POLYMER_TEMPLATES``; 4–9 of its peaks are kept (the
    strong ones more often), with jittered positions, widths and heights.

    Returns
    -------
    NDArray[np.float64]
        Intensities, one per point of ``axis``.

    Raises
    ------
    ValueError
        ``axis`` has fewer than ``MIN_POINTS`` points or is not strictly increasing.
    """
    axis = np.asarray(axis, dtype=np.float64)
    if axis.ndim != 1 or len(axis) < MIN_POINTS:
        raise ValueError(f"axis must be 1-D with at least {MIN_POINTS} points")
    if np.any(np.diff(axis) <= 0):
        raise ValueError("axis must be strictly increasing")
    template = POLYMER_TEMPLATES[str(rng.choice(list(POLYMER_TEMPLATES)))]
    heights = np.array([peak[2] for peak in template])
    most = min(PEAKS_PER_SPECTRUM[1], len(template))
    n_peaks = int(rng.integers(PEAKS_PER_SPECTRUM[0], most + 1))
    # Weighting by height keeps the bands that identify a polymer in most spectra.
    weights = (heights + 0.2) / (heights + 0.2).sum()
    chosen = rng.choice(len(template), n_peaks, replace=False, p=weights)
    broadening = rng.uniform(1.2, 1.8) if weathered else 1.0
    eta = rng.uniform(0.3, 0.8)

    signal = np.zeros_like(axis)
    for index in chosen:
        centre, hwhm, height = template[index]
        signal += pseudo_voigt(
            axis,
            centre + rng.normal(0.0, 3.0),
            hwhm * broadening * rng.lognormal(0.0, 0.15),
            height * rng.lognormal(0.0, 0.25),
            eta,
        )
    if weathered:
        # Oxidation strength is skewed low: many weathered particles carry only a trace of it.
        signal += pseudo_voigt(
            axis,
            CARBONYL_CM + rng.normal(0.0, 6.0),
            rng.uniform(12.0, 25.0),
            rng.beta(1.5, 3.0) * 0.6,
            eta,
        )
    counts = rng.uniform(800.0, 6000.0)
    noise = rng.normal(0.0, rng.uniform(0.003, 0.015), len(axis))
    return counts * (signal + _baseline(rng, axis, weathered=weathered) + noise)


def _baseline(
    rng: np.random.Generator, axis: NDArray[np.float64], *, weathered: bool
) -> NDArray[np.float64]:
    x = 2.0 * (axis - axis[0]) / (axis[-1] - axis[0]) - 1.0
    polynomial = (
        rng.normal(0.0, 0.15) * x + rng.normal(0.0, 0.1) * x**2 + rng.normal(0.0, 0.05) * x**3
    )
    hump = rng.uniform(0.0, 0.8) * np.exp(
        -0.5 * ((axis - rng.uniform(axis[0], axis[-1])) / rng.uniform(500.0, 1500.0)) ** 2
    )
    baseline = polynomial + hump
    # Raw counts never fall to zero: the detector's dark level and stray light see to that.
    baseline += rng.uniform(0.08, 0.5) - float(baseline.min())
    if weathered:
        # Degradation products fluoresce: a weathered particle sits on a higher background.
        baseline = baseline * rng.uniform(1.1, 1.4) + rng.uniform(0.02, 0.15)
    return baseline


def write_spectra(
    out_dir: Path,
    n_spectra: int,
    *,
    seed: int = 0,
    n_points: int = 1000,
    axis_range: tuple[float, float] = (200.0, 3200.0),
    weathered_fraction: float = 0.5,
) -> list[Path]:
    """Write ``n_spectra`` two-column files (``wavenumber intensity``, ``%.4f %.6f``).

    Files are named by class and number, ``sta-00000.txt`` or ``wea-00000.txt``, numbered
    across both classes. Exactly ``round(n_spectra * weathered_fraction)`` are weathered,
    scattered at random through the numbering.

    Returns
    -------
    list[Path]
        The written paths, in number order.

    Raises
    ------
    ValueError
        A negative count, fewer than ``MIN_POINTS`` points, a reversed or empty axis range,
        or a weathered fraction outside [0, 1].
    """
    if n_spectra < 0:
        raise ValueError(f"n_spectra must be zero or more, got {n_spectra}")
    if n_points < MIN_POINTS:
        raise ValueError(f"n_points must be at least {MIN_POINTS}, got {n_points}")
    low, high = axis_range
    if not low < high:
        raise ValueError(f"axis_range must be (low, high) with low < high, got {axis_range}")
    if not 0.0 <= weathered_fraction <= 1.0:
        raise ValueError(f"weathered_fraction must lie in [0, 1], got {weathered_fraction}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    axis = np.linspace(low, high, n_points)
    weathered = np.zeros(n_spectra, dtype=bool)
    weathered[rng.permutation(n_spectra)[: round(n_spectra * weathered_fraction)]] = True
    paths = []
    for number, is_weathered in enumerate(weathered):
        intensity = raman_spectrum(rng, axis, weathered=bool(is_weathered))
        label = SPECTRUM_CLASSES[int(is_weathered)]
        path = out_dir / f"{FILE_PREFIXES[label]}-{number:05d}.txt"
        np.savetxt(path, np.column_stack([axis, intensity]), fmt=("%.4f", "%.6f"), delimiter=" ")
        paths.append(path)
    return paths
