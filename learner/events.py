"""Propose sound events in a recording: a frame feature, a hysteresis threshold over a robust
noise floor, then merging, dropping and splitting of the spans it finds.

The frame feature is either the energy of one frequency band in dB (``"energy"``) or the
spectral flux of that band (``"flux"``: the summed rise in log power from one frame to the next,
an onset strength). An event starts where the feature passes ``median + threshold_high * spread``
and lasts while it stays above ``median + threshold_low * spread``, where ``median`` and
``spread`` (1.4826 × the median absolute deviation, the standard deviation of Gaussian noise)
are taken over the frames of the recording, or of each block of a long one (or over their
quietest ``noise_share``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.fft
from numpy.typing import NDArray

METHODS = ("energy", "flux")
MAD_TO_SIGMA = 1.4826
MIN_SPREAD = 1e-3
"""Floor of the spread (dB): keeps a constant feature (digital silence) from triggering."""
POWER_FLOOR = 1e-12
"""Added to band and bin power before the logarithm (-120 dB for samples in [-1, 1])."""


@dataclass(frozen=True)
class DetectorConfig:
    """How to find events.

    The defaults were tuned on the 12 Bengalese finch recordings by the grid search in
    ``benchmarks/audio_events.py`` (mean per-recording F1, onset and offset within 50 ms): from
    pooled precision 0.938, recall 0.292, F1 0.445 with the first guesses (16 ms frames,
    1–10 kHz, thresholds 6/3 over all frames) to 0.977, 1.000, 0.988 (466 of 466 syllables,
    11 false proposals). Out of sample, on the spinetail recording (long trills with calls
    overlapping them), they find none of the 18 events.
    """

    method: Literal["energy", "flux"] = "energy"
    frame_s: float = 0.006
    """Length of the analysis window (Hann)."""
    hop_s: float = 0.002
    """Step between frames; event edges fall on this grid."""
    f_low_hz: float = 1500.0
    f_high_hz: float | None = 8000.0
    """Upper edge of the band; ``None`` or anything above the Nyquist frequency means Nyquist."""
    threshold_high: float = 12.0
    """Spreads above the median at which an event starts."""
    threshold_low: float = 6.0
    """Spreads above the median below which an event ends."""
    noise_share: float = 0.5
    """Share of the quietest frames that the median and spread are taken from: 1.0 for all of
    them; less when events fill much of a recording and would lift the median into them."""
    smooth_s: float = 0.0
    """Width of a moving average over the frame feature; 0 for none."""
    min_duration_s: float = 0.02
    """Events shorter than this (after merging) are dropped."""
    max_duration_s: float | None = None
    """Events longer than this are split into equal consecutive parts no longer than it (not
    clipped, so no sound is lost from the proposals); ``None`` for no limit."""
    merge_gap_s: float = 0.005
    """Events separated by less than this are merged into one."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not (self.frame_s > 0 and self.hop_s > 0):
            raise ValueError(
                f"frame_s and hop_s must be positive, got {self.frame_s} and {self.hop_s}"
            )
        if self.hop_s > self.frame_s:
            raise ValueError(f"hop_s ({self.hop_s}) must not exceed frame_s ({self.frame_s})")
        if self.f_low_hz < 0 or (self.f_high_hz is not None and self.f_high_hz <= self.f_low_hz):
            raise ValueError(
                f"the band must satisfy 0 <= f_low_hz < f_high_hz, got "
                f"{self.f_low_hz}–{self.f_high_hz} Hz"
            )
        if self.threshold_low > self.threshold_high:
            raise ValueError(
                f"threshold_low ({self.threshold_low}) must not exceed "
                f"threshold_high ({self.threshold_high})"
            )
        if not 0 < self.noise_share <= 1:
            raise ValueError(f"noise_share must be in (0, 1], got {self.noise_share}")
        if self.smooth_s < 0 or self.min_duration_s < 0 or self.merge_gap_s < 0:
            raise ValueError("smooth_s, min_duration_s and merge_gap_s must not be negative")
        if self.max_duration_s is not None and self.max_duration_s <= 0:
            raise ValueError(f"max_duration_s must be positive, got {self.max_duration_s}")

    @classmethod
    def from_dict(cls, values: dict | None) -> DetectorConfig:
        """Build from settings; missing keys keep their defaults.

        Raises
        ------
        ValueError
            An unknown key, or values that break the rules above.
        """
        values = dict(values or {})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown detector settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


FRAMES_PER_FFT = 8192
"""Frames transformed at once: large enough for speed, small enough to bound temporaries."""


@dataclass(frozen=True, slots=True)
class _Grid:
    """Frames of one recording: frame ``i`` is centred on sample ``i * hop``."""

    sample_rate: int
    n_samples: int
    frame: int
    hop: int
    band: NDArray[np.bool_]
    smooth: int
    """Odd width of the moving average in frames (1 for none)."""

    @property
    def n_frames(self) -> int:
        return -(-self.n_samples // self.hop)

    @property
    def margin(self) -> int:
        """Frames of context needed on each side: the moving average, and the frame before for
        the flux."""
        return self.smooth // 2 + 1

    def samples_for(self, first: int, last: int) -> tuple[int, int]:
        """Sample range ``[lo, hi)`` that frames ``[first, last)`` cover."""
        lo = first * self.hop - self.frame // 2
        return lo, lo + (last - first - 1) * self.hop + self.frame


def _grid(config: DetectorConfig, sample_rate: int, n_samples: int) -> _Grid:
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    frame = max(2, round(config.frame_s * sample_rate))
    hop = max(1, round(config.hop_s * sample_rate))
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    high = sample_rate / 2 if config.f_high_hz is None else config.f_high_hz
    band = (freqs >= config.f_low_hz) & (freqs <= high)
    if not band.any():
        raise ValueError(
            f"the band {config.f_low_hz}–{high} Hz holds no frequency bin at {sample_rate} Hz "
            f"with {frame}-sample frames (Nyquist {sample_rate / 2} Hz)"
        )
    smooth = 2 * (round(config.smooth_s / config.hop_s) // 2) + 1
    return _Grid(sample_rate, n_samples, frame, hop, band, smooth)


def _window(
    audio: NDArray[np.float32], offset: int, lo: int, hi: int, n_samples: int
) -> NDArray[np.float32]:
    """Samples ``lo..hi-1`` of a recording of ``n_samples``, mirrored at its ends, taken from
    ``audio``, which holds the recording's samples from ``offset`` on."""

    def mirrored(index: NDArray[np.intp]) -> NDArray[np.float32]:
        index = np.abs(index)
        index = np.where(index >= n_samples, 2 * (n_samples - 1) - index, index)
        return audio[np.clip(index, 0, n_samples - 1) - offset]

    parts = []
    if lo < 0:
        parts.append(mirrored(np.arange(lo, min(hi, 0))))
    inner_lo, inner_hi = max(lo, 0), min(hi, n_samples)
    if inner_hi > inner_lo:
        parts.append(audio[inner_lo - offset : inner_hi - offset])
    if hi > n_samples:
        parts.append(mirrored(np.arange(max(lo, n_samples), hi)))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _frame_feature(
    window: NDArray[np.float32], grid: _Grid, method: str, n_frames: int
) -> NDArray[np.float64]:
    """Feature of ``n_frames`` frames laid out from the start of ``window``; for the flux the
    first frame only serves as the predecessor of the second, and its value is 0."""
    taper = np.hanning(grid.frame + 2)[1:-1].astype(np.float32)
    framed = np.lib.stride_tricks.sliding_window_view(window, grid.frame)[:: grid.hop][:n_frames]
    feature = np.empty(n_frames)
    previous: NDArray[np.float64] | None = None
    for start in range(0, n_frames, FRAMES_PER_FFT):
        spectrum = scipy.fft.rfft(framed[start : start + FRAMES_PER_FFT] * taper, axis=1)
        power = spectrum.real[:, grid.band] ** 2 + spectrum.imag[:, grid.band] ** 2
        stop = start + len(power)
        if method == "energy":
            feature[start:stop] = 10 * np.log10(power.sum(axis=1) + POWER_FLOOR)
            continue
        level = 10 * np.log10(power + POWER_FLOOR)
        before = level[:1] if previous is None else previous
        rise = np.diff(np.concatenate([before, level]), axis=0)
        feature[start:stop] = np.maximum(rise, 0).mean(axis=1)
        previous = level[-1:]
    return feature


def _block_feature(
    read: Callable[[int, int], NDArray[np.float32]], first: int, last: int, grid: _Grid, method: str
) -> NDArray[np.float64]:
    """Smoothed feature of frames ``[first, last)``, computed with ``grid.margin`` frames of
    context on each side so that it does not depend on where a block starts or ends."""
    lo, hi = grid.samples_for(first - grid.margin, last + grid.margin)
    raw = _frame_feature(read(lo, hi), grid, method, last - first + 2 * grid.margin)
    raw = raw[1:]  # the first frame has no predecessor for the flux
    if grid.smooth > 1:
        kernel = np.full(grid.smooth, 1.0 / grid.smooth)
        raw = np.convolve(raw, kernel, mode="valid")
    return raw[: last - first]


def _thresholds(feature: NDArray[np.float64], config: DetectorConfig) -> tuple[float, float]:
    """(start, keep) levels: ``median + k * spread`` of the quietest frames."""
    if config.noise_share < 1:
        quiet = max(1, round(config.noise_share * len(feature)))
        feature = np.partition(feature, quiet - 1)[:quiet]
    median = float(np.median(feature))
    spread = max(MAD_TO_SIGMA * float(np.median(np.abs(feature - median))), MIN_SPREAD)
    return median + config.threshold_high * spread, median + config.threshold_low * spread


def _runs(
    feature: NDArray[np.float64], high: float, low: float
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.bool_]]:
    """Starts, exclusive ends, and whether each run above ``low`` reaches above ``high``."""
    above = np.concatenate([[False], feature > low, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    peaks = np.concatenate([[0], np.cumsum(feature > high)])
    return starts, ends, peaks[ends] > peaks[starts]


class _RunJoiner:
    """Collects hysteresis runs block by block; a run that reaches a block's last frame stays
    open until the next block shows whether it goes on."""

    def __init__(self) -> None:
        self._starts: list[NDArray[np.intp]] = []
        self._ends: list[NDArray[np.intp]] = []
        self._open: tuple[int, int, bool] | None = None
        """Start, end so far, and whether it peaked, of a run that reached the block's end."""

    def add(self, feature: NDArray[np.float64], first: int, high: float, low: float) -> None:
        starts, ends, peaked = _runs(feature, high, low)
        starts, ends = starts + first, ends + first
        if self._open is not None:
            open_start, open_end, open_peak = self._open
            self._open = None
            if len(starts) and starts[0] == first:
                starts[0], peaked[0] = open_start, peaked[0] or open_peak
            elif open_peak:
                self._keep(np.array([open_start]), np.array([open_end]))
        if len(starts) and ends[-1] == first + len(feature):
            self._open = (int(starts[-1]), int(ends[-1]), bool(peaked[-1]))
            starts, ends, peaked = starts[:-1], ends[:-1], peaked[:-1]
        self._keep(starts[peaked], ends[peaked])

    def _keep(self, starts: NDArray[np.intp], ends: NDArray[np.intp]) -> None:
        self._starts.append(starts)
        self._ends.append(ends)

    def finish(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Starts and exclusive ends (frames) of every run that peaked, in order."""
        if self._open is not None and self._open[2]:
            self._keep(np.array([self._open[0]]), np.array([self._open[1]]))
        self._open = None
        empty = [np.empty(0, np.intp)]
        return np.concatenate(self._starts + empty), np.concatenate(self._ends + empty)


def _spans(
    starts: NDArray[np.intp], ends: NDArray[np.intp], grid: _Grid, config: DetectorConfig
) -> list[tuple[float, float]]:
    """Frame runs to seconds, then merge close ones, drop short ones and split long ones."""
    step = grid.hop / grid.sample_rate
    duration = grid.n_samples / grid.sample_rate
    # frame i stands for the hop-long stretch centred on it
    onsets = np.clip((starts - 0.5) * step, 0.0, duration)
    offsets = np.clip((ends - 0.5) * step, 0.0, duration)
    if len(onsets) > 1:
        opens = np.concatenate([[True], onsets[1:] - offsets[:-1] >= config.merge_gap_s])
        onsets, offsets = onsets[opens], offsets[np.roll(opens, -1)]
    keep = offsets - onsets >= max(config.min_duration_s, 1e-9)
    onsets, offsets = onsets[keep], offsets[keep]
    if config.max_duration_s is None:
        return list(zip(onsets.tolist(), offsets.tolist(), strict=True))
    parts = np.ceil((offsets - onsets) / config.max_duration_s - 1e-9).astype(np.intp)
    owner = np.repeat(np.arange(len(onsets)), parts)
    index = np.arange(len(owner)) - np.repeat(np.cumsum(parts) - parts, parts)
    length = (offsets - onsets)[owner] / parts[owner]
    split_on = onsets[owner] + index * length
    split_off = np.where(index == parts[owner] - 1, offsets[owner], split_on + length)
    return list(zip(split_on.tolist(), split_off.tolist(), strict=True))


def detect_events(
    samples: NDArray, sample_rate: int, config: DetectorConfig | None = None
) -> list[tuple[float, float]]:
    """Propose events in a recording held in memory, with one noise floor for all of it.

    Parameters
    ----------
    samples
        Shape ``(n,)``, or ``(n, channels)``, averaged to mono.
    sample_rate
        Samples per second.
    config
        Detector settings; ``None`` for the defaults.

    Returns
    -------
    list[tuple[float, float]]
        ``(start_s, end_s)`` of each event, sorted and not overlapping.

    Raises
    ------
    ValueError
        Samples of the wrong shape or not finite, a sample rate that is not positive, or a band
        that holds no frequency bin at this sample rate.
    """
    config = config or DetectorConfig()
    samples = np.asarray(samples)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.ndim != 1:
        raise ValueError(f"samples must have shape (n,) or (n, channels), got {samples.shape}")
    samples = samples.astype(np.float32, copy=False)
    if len(samples) == 0:
        return []
    if not np.isfinite(samples).all():
        raise ValueError("samples hold NaN or infinite values")
    grid = _grid(config, sample_rate, len(samples))

    def read(lo: int, hi: int) -> NDArray[np.float32]:
        return _window(samples, 0, lo, hi, len(samples))

    feature = _block_feature(read, 0, grid.n_frames, grid, config.method)
    joiner = _RunJoiner()
    joiner.add(feature, 0, *_thresholds(feature, config))
    return _spans(*joiner.finish(), grid, config)


def detect_events_in_file(
    path: Path | str, config: DetectorConfig | None = None, *, block_s: float = 60.0
) -> list[tuple[float, float]]:
    """Propose events in a recording on disk, reading about ``block_s`` seconds at a time.

    The recording is cut into equal blocks of roughly ``block_s`` (between 2/3 and 2 times it).
    Each block is read with a few frames of overlap on both sides, so every frame's feature is
    the one a single pass would compute; a run that reaches a block's end is carried into the
    next, so an event across a block edge comes out once and whole. The noise floor is estimated
    per block, so it follows background noise that changes over a long recording; with steady
    noise the result is that of ``detect_events`` on the whole recording. Blocks should be many
    times longer than the longest event, or events will raise their own block's floor.

    Returns
    -------
    list[tuple[float, float]]
        ``(start_s, end_s)`` of each event, sorted and not overlapping.

    Raises
    ------
    ValueError
        ``block_s`` not positive, or a band with no frequency bin at the file's sample rate.
    soundfile.LibsndfileError
        The file cannot be read as audio.
    """
    import soundfile

    config = config or DetectorConfig()
    if not block_s > 0:
        raise ValueError(f"block_s must be positive, got {block_s}")
    joiner = _RunJoiner()
    with soundfile.SoundFile(str(path)) as sound:
        if sound.frames == 0:
            return []
        grid = _grid(config, sound.samplerate, sound.frames)
        blocks = min(max(1, round(sound.frames / sound.samplerate / block_s)), grid.n_frames)
        edges = np.linspace(0, grid.n_frames, blocks + 1).astype(np.intp).tolist()
        for first, last in zip(edges[:-1], edges[1:], strict=True):
            lo, hi = grid.samples_for(first - grid.margin, last + grid.margin)
            # the mirrored edges of the recording come from inside it: read those samples too
            start = max(0, min(lo, 2 * (sound.frames - 1) - hi + 1))
            stop = min(sound.frames, max(hi, -lo + 1))
            sound.seek(start)
            audio = sound.read(stop - start, dtype="float32", always_2d=True).mean(axis=1)

            def read(lo: int, hi: int, audio=audio, start=start) -> NDArray[np.float32]:
                return _window(audio, start, lo, hi, sound.frames)

            feature = _block_feature(read, first, last, grid, config.method)
            joiner.add(feature, first, *_thresholds(feature, config))
    return _spans(*joiner.finish(), grid, config)
