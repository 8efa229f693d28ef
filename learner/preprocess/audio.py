"""Audio segments: read only the frames needed, resample, fixed-length log-mel spectrogram."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learner.formats.errors import FormatError

TOP_DB = 80.0
"""Dynamic range kept below each clip's loudest mel bin."""
_CHUNK = 256
"""Clips per librosa call in ``logmel_batch``: batched STFTs are faster, within memory."""


@dataclass(frozen=True)
class AudioConfig:
    """How a project turns a labelled span into a model input.

    Raises
    ------
    ValueError
        A setting out of its range (checked on construction).
    """

    sample_rate: int = 16000
    """Project rate in Hz; recordings at another rate are resampled to it."""
    n_mels: int = 64
    n_fft: int = 1024
    hop_length: int = 256
    duration_s: float = 1.0
    """Length of the window centred on the segment that the model sees."""

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_mels", "n_fft", "hop_length"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be positive, got {self.duration_s}")

    @property
    def frames(self) -> int:
        """Time frames of every log-mel: ``logmel`` returns shape (n_mels, frames)."""
        return 1 + int(round(self.duration_s * self.sample_rate)) // self.hop_length

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One model input with its channel: (1, n_mels, frames)."""
        return (1, self.n_mels, self.frames)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> AudioConfig:
        """A config from project settings; unknown keys are an error, not silently dropped.

        Raises
        ------
        ValueError
            An unknown key, or a value out of range.
        """
        values = dict(values or {})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown audio settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def spectrogram_settings(self) -> dict[str, Any]:
        """The keyword arguments of ``logmel`` and ``logmel_batch``."""
        return {
            "n_mels": self.n_mels,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "duration_s": self.duration_s,
        }


def read_segment(
    path: Path, start_s: float, end_s: float, *, sample_rate: int, context_s: float = 0.0
) -> NDArray[np.float32]:
    """Mono samples of ``[start_s - context_s, end_s + context_s)`` at ``sample_rate``,
    seeking to the span so that only its frames are decoded. The span is clipped to the
    recording; the result holds ``round(seconds read * sample_rate)`` samples.

    Raises
    ------
    ValueError
        An empty span, a span outside the recording, or a non-positive rate.
    FormatError
        The file is not a readable recording.
    """
    import soundfile

    if end_s <= start_s:
        raise ValueError(f"empty span {start_s}–{end_s} s")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if context_s < 0:
        raise ValueError(f"context_s must be 0 or more, got {context_s}")
    try:
        with soundfile.SoundFile(str(path)) as sound:
            rate = sound.samplerate
            first = max(0, int(round((start_s - context_s) * rate)))
            last = min(sound.frames, int(round((end_s + context_s) * rate)))
            if first >= last:
                raise ValueError(
                    f"span {start_s}–{end_s} s lies outside the recording "
                    f"({sound.frames / rate:.3f} s)"
                )
            sound.seek(first)
            frames = sound.read(last - first, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise FormatError(f"not a readable recording ({e})", str(path)) from e
    samples = frames.mean(axis=1) if frames.shape[1] > 1 else frames[:, 0]
    if rate != sample_rate:
        import librosa

        wanted = int(round(len(samples) * sample_rate / rate))
        samples = librosa.resample(samples, orig_sr=rate, target_sr=sample_rate)
        samples = librosa.util.fix_length(samples, size=wanted)
    return np.ascontiguousarray(samples, dtype=np.float32)


def centred(samples: NDArray[np.float32], length: int) -> NDArray[np.float32]:
    """Pad with zeros or crop to ``length``, keeping the centre."""
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
    """Log-mel power in dB of a ``duration_s`` window centred on the samples.

    Returns
    -------
    NDArray[np.float32]
        Shape (n_mels, 1 + round(duration_s * sample_rate) // hop_length); 0 dB at the clip's
        loudest bin, floored at -80 dB. A silent clip gives zeros.
    """
    return logmel_batch(
        [samples],
        sample_rate,
        n_mels=n_mels,
        n_fft=n_fft,
        hop_length=hop_length,
        duration_s=duration_s,
    )[0]


def logmel_batch(
    segments: Sequence[NDArray[np.float32]],
    sample_rate: int,
    *,
    n_mels: int = 64,
    n_fft: int = 1024,
    hop_length: int = 256,
    duration_s: float = 1.0,
) -> NDArray[np.float32]:
    """``logmel`` of every segment, stacked; one STFT per chunk of clips instead of per clip.

    Returns
    -------
    NDArray[np.float32]
        Shape (len(segments), n_mels, frames).

    Raises
    ------
    ValueError
        A non-positive rate or duration.
    """
    import librosa

    if sample_rate <= 0 or duration_s <= 0:
        raise ValueError(f"sample_rate {sample_rate} and duration_s {duration_s} must be positive")
    length = int(round(duration_s * sample_rate))
    out = np.empty((len(segments), n_mels, 1 + length // hop_length), dtype=np.float32)
    for start in range(0, len(segments), _CHUNK):
        windows = np.stack(
            [centred(np.asarray(s, np.float32), length) for s in segments[start : start + _CHUNK]]
        )
        power = librosa.feature.melspectrogram(
            y=windows, sr=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
        )
        out[start : start + len(windows)] = _power_to_db(power)
    return out


def _power_to_db(power: NDArray[np.float32]) -> NDArray[np.float32]:
    """``librosa.power_to_db(ref=np.max, top_db=80)`` applied to each clip of a stack."""
    amin = 1e-10
    db = 10.0 * np.log10(np.maximum(power, amin))
    db -= db.max(axis=(-2, -1), keepdims=True)
    return np.maximum(db, -TOP_DB)
