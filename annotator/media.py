"""What the annotator shows of an item, computed from its source: plain functions over files.

Nothing here touches Streamlit; ``annotator.cache`` memoises these per item. Every failure to
read an item's media becomes a ``MediaError`` that names the file and the reason.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from learner.formats.errors import FormatError

ENVELOPE_POINTS = 2000
"""Points of the waveform drawn per item: a min/max envelope, never the raw samples."""
CONTEXT_S = 1.0
"""Seconds shown on either side of an audio segment."""
PLAYBACK_PADDING_S = 0.1
MAX_SPECTROGRAM_FRAMES = 400


class MediaError(Exception):
    """An item's media cannot be read: the file is gone, truncated, or not what it claims."""


@dataclass(frozen=True, slots=True)
class AudioView:
    """A segment in its context: envelope and log-mel on one time axis (seconds in the file)."""

    window_start_s: float
    window_end_s: float
    recording_s: float
    envelope_t: NDArray[np.float64]
    envelope: NDArray[np.float32]
    """Alternating min and max of each bin, ``ENVELOPE_POINTS`` values."""
    mel_t: NDArray[np.float64]
    mel_hz: NDArray[np.float64]
    mel_db: NDArray[np.float32]
    """(n_mels, frames), 0 dB at the window's loudest bin."""


def recording_length(path: str) -> float:
    import soundfile

    try:
        info = soundfile.info(path)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as e:
        raise MediaError(f"{path}: {_reason(e)}") from e
    return info.frames / info.samplerate


def audio_view(
    path: str,
    start_s: float,
    end_s: float,
    *,
    sample_rate: int,
    n_mels: int = 64,
    n_fft: int = 1024,
    hop_length: int = 256,
    context_s: float = CONTEXT_S,
) -> AudioView:
    """Envelope and log-mel of ``[start_s - context_s, end_s + context_s)`` of a recording.

    Raises
    ------
    MediaError
        The recording is missing or unreadable, or the span lies outside it.
    """
    from learner.preprocess.audio import logmel, read_segment

    length = recording_length(path)
    first = max(0.0, start_s - context_s)
    last = min(length, end_s + context_s)
    try:
        samples = read_segment(Path(path), first, last, sample_rate=sample_rate)
    except (FormatError, ValueError, OSError) as e:
        raise MediaError(f"{path}: {_reason(e)}") from e
    window = len(samples) / sample_rate
    envelope_t, envelope = min_max_envelope(samples, sample_rate, first, ENVELOPE_POINTS)
    mel = logmel(
        samples, sample_rate, n_mels=n_mels, n_fft=n_fft, hop_length=hop_length, duration_s=window
    )
    step = max(1, int(np.ceil(mel.shape[1] / MAX_SPECTROGRAM_FRAMES)))
    if step > 1:  # keep the heat map light: max over groups of frames keeps short events
        frames = mel.shape[1] // step * step
        mel = mel[:, :frames].reshape(mel.shape[0], -1, step).max(axis=2)
    mel_t = first + (np.arange(mel.shape[1]) * step + step / 2) * hop_length / sample_rate
    import librosa

    mel_hz = librosa.mel_frequencies(n_mels=n_mels + 2, fmax=sample_rate / 2)[1:-1]
    return AudioView(first, first + window, length, envelope_t, envelope, mel_t, mel_hz, mel)


def min_max_envelope(
    samples: NDArray[np.float32], sample_rate: int, offset_s: float, points: int
) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
    """Times and values of a min/max envelope with ``points`` values (two per bin)."""
    bins = max(1, min(points // 2, len(samples)))
    edges = np.linspace(0, len(samples), bins + 1).astype(np.int64)
    starts = edges[:-1]
    lows = np.minimum.reduceat(samples, starts) if len(samples) else np.zeros(bins, np.float32)
    highs = np.maximum.reduceat(samples, starts) if len(samples) else np.zeros(bins, np.float32)
    values = np.empty(2 * bins, dtype=np.float32)
    values[0::2], values[1::2] = lows, highs
    centres = offset_s + (edges[:-1] + edges[1:]) / 2 / sample_rate
    return np.repeat(centres, 2), values


def segment_wav(
    path: str, start_s: float, end_s: float, *, padding_s: float = PLAYBACK_PADDING_S
) -> bytes:
    """WAV bytes of exactly ``[start_s - padding_s, end_s + padding_s)`` at the file's own rate
    (``st.audio`` would round a start time to whole seconds)."""
    import soundfile

    try:
        with soundfile.SoundFile(path) as sound:
            rate = sound.samplerate
            first = max(0, int(round((start_s - padding_s) * rate)))
            last = min(sound.frames, int(round((end_s + padding_s) * rate)))
            sound.seek(first)
            frames = sound.read(max(last - first, 0), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as e:
        raise MediaError(f"{path}: {_reason(e)}") from e
    buffer = io.BytesIO()
    soundfile.write(buffer, frames, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class SpectrumView:
    raw_axis: NDArray[np.float64]
    raw: NDArray[np.float64]
    axis: NDArray[np.float64]
    preprocessed: NDArray[np.float64]
    """What the model sees: the project's preprocessing of ``raw``."""


def spectrum_view(path: str, position: int | None, settings: dict) -> SpectrumView:
    """Raw and preprocessed spectrum of one column of a file.

    Raises
    ------
    MediaError
        The file is gone or the column holds no valid spectrum.
    """
    from learner.formats.spectra import read_spectrum_column
    from learner.preprocess.spectrum import SpectrumConfig, preprocess_spectrum

    try:
        raw_axis, raw = read_spectrum_column(Path(path), position or 1)
        axis, values = preprocess_spectrum(raw_axis, raw, SpectrumConfig.from_dict(settings))
    except (FormatError, ValueError, OSError) as e:
        raise MediaError(f"{path}: {_reason(e)}") from e
    return SpectrumView(raw_axis, raw, axis, values)


def crop_bytes(path: str, kind: str, member: str | None, position: int | None) -> bytes:
    """The encoded image of one crop (JPEG or PNG bytes, as stored), checked to decode.

    Raises
    ------
    MediaError
        The file or entry is gone, or its bytes are not an image.
    """
    from learner.formats.crops import decode_crop

    try:
        if kind == "hdf5":
            import h5py

            with h5py.File(path, "r") as store:
                blob = np.asarray(store[member][position], dtype=np.uint8).tobytes()
        else:
            blob = Path(path).read_bytes()
        decode_crop(blob)
    except (FormatError, OSError, KeyError, ValueError, IndexError) as e:
        where = f"{path}[{member}][{position}]" if kind == "hdf5" else path
        raise MediaError(f"{where}: {_reason(e)}") from e
    return blob


def crop_page(refs: list[tuple[str, str, str | None, int | None]]) -> list[bytes | MediaError]:
    """Encoded bytes of a page of crops, one chunked read per HDF5 dataset; a crop that fails
    gives its ``MediaError`` in its slot instead of failing the page."""
    from learner.featurise import ItemRef, read_crop_blobs
    from learner.formats.crops import decode_crop

    item_refs = [
        ItemRef(path, kind, member, position, None, None) for path, kind, member, position in refs
    ]
    blobs, failures = read_crop_blobs(item_refs)
    out: list[bytes | MediaError] = []
    failed = dict(failures)
    for index, blob in enumerate(blobs):
        if index in failed or blob is None:
            out.append(MediaError(failed.get(index, "cannot be read")))
            continue
        try:
            decode_crop(blob)
        except FormatError as e:
            path, _, member, position = refs[index]
            out.append(MediaError(f"{path}[{member}][{position}]: {_reason(e)}"))
            continue
        out.append(blob)
    return out


def _reason(error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        return "the file is gone (not found)"
    if isinstance(error, FormatError):
        return error.reason
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def thumbnail(blob: bytes, size: int = 96) -> bytes:
    """PNG of a crop scaled to ``size`` pixels with nearest-neighbour, so pixels stay sharp."""
    import cv2

    from learner.formats.crops import decode_crop

    image = decode_crop(blob)
    scale = size / max(image.shape[:2])
    resized = cv2.resize(
        image,
        (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
        interpolation=cv2.INTER_NEAREST if scale >= 1 else cv2.INTER_AREA,
    )
    ok, png = cv2.imencode(".png", resized)
    if not ok:
        raise MediaError("cannot encode the thumbnail")
    return png.tobytes()
