"""Audio segments: read only the frames needed, resample, fixed-length log-mel spectrogram."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 16000
    n_mels: int = 64
    n_fft: int = 1024
    hop_length: int = 256
    duration_s: float = 1.0
    """Length of the window centred on the segment that the model sees."""

    @classmethod
    def from_dict(cls, values: dict | None) -> AudioConfig:
        values = dict(values or {})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown audio settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


def read_segment(
    path: Path, start_s: float, end_s: float, *, sample_rate: int, context_s: float = 0.0
) -> NDArray[np.float32]:
    """Mono samples of ``[start_s - context_s, end_s + context_s)`` at ``sample_rate``.

    Raises
    ------
    ValueError
        An empty span, or a span outside the recording.
    """
    import soundfile

    if end_s <= start_s:
        raise ValueError(f"empty span {start_s}–{end_s} s")
    with soundfile.SoundFile(str(path)) as sound:
        rate = sound.samplerate
        first = max(0, int(round((start_s - context_s) * rate)))
        last = min(sound.frames, int(round((end_s + context_s) * rate)))
        if first >= last:
            raise ValueError(f"span {start_s}–{end_s} s lies outside the recording")
        sound.seek(first)
        samples = sound.read(last - first, dtype="float32", always_2d=True).mean(axis=1)
    if rate != sample_rate:
        import librosa

        samples = librosa.resample(samples, orig_sr=rate, target_sr=sample_rate)
    return samples.astype(np.float32)


def centred(samples: NDArray[np.float32], length: int) -> NDArray[np.float32]:
    """Pad with zeros or crop, keeping the centre."""
    if len(samples) >= length:
        start = (len(samples) - length) // 2
        return samples[start : start + length]
    before = (length - len(samples)) // 2
    return np.pad(samples, (before, length - len(samples) - before))


def logmel(
    samples: NDArray[np.float32],
    sample_rate: int,
    *,
    n_mels: int = 64,
    n_fft: int = 1024,
    hop_length: int = 256,
    duration_s: float = 1.0,
) -> NDArray[np.float32]:
    """Log-mel power (dB, peak 0) of a ``duration_s`` window centred on the samples:
    shape (n_mels, 1 + duration_s * sample_rate // hop_length)."""
    import librosa

    window = centred(samples, int(round(duration_s * sample_rate)))
    mel = librosa.feature.melspectrogram(
        y=window, sr=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0
    )
    return librosa.power_to_db(mel, ref=np.max, top_db=80.0).astype(np.float32) / 80.0 + 1.0
