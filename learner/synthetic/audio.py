"""Synthetic field recordings: coloured background noise with labelled sound events.

Each recording ``rec_NNNN.wav`` (16-bit PCM, mono) gets an Audacity label track ``rec_NNNN.txt``
beside it. Event loudness is drawn per event as an SNR over the recording's own background,
so loudness alone does not tell the classes apart; their shape in time and frequency does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from numpy.typing import NDArray

AUDIO_CLASSES = ("single_burst", "multiple_burst", "harmonic")
"""single_burst: one short broadband click; multiple_burst: a train of 3–6 such clicks;
harmonic: a tonal call with a fundamental and its overtones."""

MIN_DURATION_S = 2.0
"""The longest event (a six-burst train, about 1.23 s) must fit with room on both sides."""
MIN_SAMPLE_RATE = 8000
EVENT_GAP_S = 0.1
"""Silence kept between neighbouring events and at both ends, so spans never touch."""
SNR_DB_RANGE = (3.0, 20.0)
BACKGROUND_DBFS_RANGE = (-45.0, -30.0)
PEAK_LIMIT = 0.95


@dataclass(frozen=True, slots=True)
class SyntheticEvent:
    """An event's waveform (unit RMS over its sounding part) and its label facts."""

    label: str
    waveform: NDArray[np.float64]
    f_low_hz: float | None = None
    f_high_hz: float | None = None


def write_recordings(
    out_dir: Path,
    n_recordings: int,
    *,
    seed: int = 0,
    duration_s: float = 10.0,
    sample_rate: int = 16000,
    events_per_recording: tuple[int, int] = (3, 8),
) -> list[Path]:
    """Write ``n_recordings`` WAV files with Audacity label tracks beside them.

    Each recording draws its event count from ``events_per_recording`` (both ends included).
    Events are sorted by start, never overlap, and lie inside the recording. Where the drawn
    events do not all fit in ``duration_s``, the last ones are dropped, so a short recording
    may hold fewer than ``events_per_recording[0]`` events.

    Returns
    -------
    list[Path]
        The WAV paths, ``rec_0000.wav`` onwards, in order.

    Raises
    ------
    ValueError
        A negative count, a recording shorter than ``MIN_DURATION_S``, a sample rate below
        ``MIN_SAMPLE_RATE``, or an events range that is negative or reversed.
    """
    if n_recordings < 0:
        raise ValueError(f"n_recordings must be zero or more, got {n_recordings}")
    if duration_s < MIN_DURATION_S:
        raise ValueError(f"duration_s must be at least {MIN_DURATION_S} s, got {duration_s}")
    if sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(f"sample_rate must be at least {MIN_SAMPLE_RATE} Hz, got {sample_rate}")
    low, high = events_per_recording
    if low < 0 or high < low:
        raise ValueError(
            f"events_per_recording must be (low, high) with 0 <= low <= high, got {low, high}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_samples = int(round(duration_s * sample_rate))
    paths = []
    for number in range(n_recordings):
        n_events = int(rng.integers(low, high + 1))
        audio, label_lines = _recording(rng, n_samples, sample_rate, n_events)
        wav = out_dir / f"rec_{number:04d}.wav"
        soundfile.write(str(wav), audio, sample_rate, subtype="PCM_16")
        wav.with_suffix(".txt").write_text("".join(label_lines), encoding="utf-8")
        paths.append(wav)
    return paths


def _recording(
    rng: np.random.Generator, n_samples: int, sample_rate: int, n_events: int
) -> tuple[NDArray[np.float64], list[str]]:
    background_rms = 10 ** (rng.uniform(*BACKGROUND_DBFS_RANGE) / 20)
    audio = background_rms * coloured_noise(rng, n_samples, sample_rate)
    events = [_event(rng, str(rng.choice(AUDIO_CLASSES)), sample_rate) for _ in range(n_events)]
    gap = int(EVENT_GAP_S * sample_rate)
    while events and sum(len(e.waveform) for e in events) + gap * (len(events) + 1) > n_samples:
        events.pop()
    # Spread the spare time over the gaps at random, so events are placed without rejection.
    spare = n_samples - sum(len(e.waveform) for e in events) - gap * (len(events) + 1)
    shares = np.floor(rng.dirichlet(np.ones(len(events) + 1)) * spare).astype(np.int64)
    lines = []
    onset = 0
    for event, share in zip(events, shares, strict=False):
        onset += gap + int(share)
        gain = background_rms * 10 ** (rng.uniform(*SNR_DB_RANGE) / 20)
        audio[onset : onset + len(event.waveform)] += gain * event.waveform
        start_s, end_s = onset / sample_rate, (onset + len(event.waveform)) / sample_rate
        lines.append(f"{start_s:.6f}\t{end_s:.6f}\t{event.label}\n")
        if event.f_low_hz is not None and event.f_high_hz is not None:
            lines.append(f"\\\t{event.f_low_hz:.6f}\t{event.f_high_hz:.6f}\n")
        onset += len(event.waveform)
    peak = float(np.abs(audio).max(initial=0.0))
    if peak > PEAK_LIMIT:
        audio *= PEAK_LIMIT / peak
    return audio, lines


def coloured_noise(
    rng: np.random.Generator, n_samples: int, sample_rate: int
) -> NDArray[np.float64]:
    """Unit-RMS noise with a 1/f^alpha spectrum (alpha 0.6–1.4) and a slow level drift.

    Returns
    -------
    NDArray[np.float64]
        ``n_samples`` samples.
    """
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    frequencies = np.fft.rfftfreq(n_samples, 1 / sample_rate)
    alpha = rng.uniform(0.6, 1.4)
    # Below 20 Hz the 1/f slope would turn into DC drift that no microphone records.
    spectrum *= np.maximum(frequencies, 20.0) ** (-alpha / 2)
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n_samples)
    noise /= np.sqrt(np.mean(noise**2)) or 1.0
    t = np.arange(n_samples) / sample_rate
    drift = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 2 * np.pi))
    return noise * drift


def _event(rng: np.random.Generator, label: str, sample_rate: int) -> SyntheticEvent:
    if label == "single_burst":
        return SyntheticEvent(label, noise_burst(rng, sample_rate))
    if label == "multiple_burst":
        return SyntheticEvent(label, burst_train(rng, sample_rate))
    waveform, fundamental, top = harmonic_call(rng, sample_rate)
    return SyntheticEvent(label, waveform, fundamental * 0.9, top * 1.1)


def noise_burst(rng: np.random.Generator, sample_rate: int) -> NDArray[np.float64]:
    """A 20–80 ms broadband burst: a 1–3 ms attack, then exponential decay.

    Returns
    -------
    NDArray[np.float64]
        The burst, scaled to unit RMS.
    """
    n = int(rng.uniform(0.020, 0.080) * sample_rate)
    t = np.arange(n) / sample_rate
    attack_s = rng.uniform(0.001, 0.003)
    decay_s = n / sample_rate / rng.uniform(3.0, 5.0)
    envelope = np.minimum(t / attack_s, 1.0) * np.exp(-np.maximum(t - attack_s, 0.0) / decay_s)
    burst = rng.standard_normal(n) * envelope
    return burst / np.sqrt(np.mean(burst**2))


def burst_train(rng: np.random.Generator, sample_rate: int) -> NDArray[np.float64]:
    """3–6 noise bursts separated by 40–150 ms of silence; the waveform spans the whole train.

    Returns
    -------
    NDArray[np.float64]
        The train, each burst at unit RMS times a ±2 dB variation.
    """
    pieces = []
    n_bursts = int(rng.integers(3, 7))
    for index in range(n_bursts):
        if index:
            pieces.append(np.zeros(int(rng.uniform(0.040, 0.150) * sample_rate)))
        pieces.append(noise_burst(rng, sample_rate) * 10 ** (rng.uniform(-2, 2) / 20))
    return np.concatenate(pieces)


def harmonic_call(
    rng: np.random.Generator, sample_rate: int
) -> tuple[NDArray[np.float64], float, float]:
    """A 0.15–0.6 s tone, fundamental 150–900 Hz, 3–5 partials, a slight glide, smooth envelope.

    Returns
    -------
    tuple[NDArray[np.float64], float, float]
        The unit-RMS waveform, its fundamental and its top partial's frequency in Hz (the
        nominal ones; the ±3 % glide stays inside the 0.9/1.1 margins of the label band).
    """
    n = int(rng.uniform(0.15, 0.6) * sample_rate)
    fundamental = rng.uniform(150.0, 900.0)
    # Partials near Nyquist would alias back down into the band.
    n_partials = int(rng.integers(3, 6))
    partials = [k for k in range(1, n_partials + 1) if k * fundamental < 0.45 * sample_rate]
    glide = rng.uniform(-0.06, 0.06)
    instantaneous = fundamental * (1 + glide * (np.arange(n) / n - 0.5))
    phase = 2 * np.pi * np.cumsum(instantaneous) / sample_rate
    rolloff = rng.uniform(0.5, 1.5)
    tone = sum(k ** (-rolloff) * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in partials)
    ramp = max(2, int(n * rng.uniform(0.15, 0.3)))
    envelope = np.ones(n)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    envelope[:ramp] = rise
    envelope[-ramp:] = rise[::-1]
    waveform = np.asarray(tone) * envelope
    return waveform / np.sqrt(np.mean(waveform**2)), fundamental, partials[-1] * fundamental
