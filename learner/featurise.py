"""From item locators to model inputs, reading each file once: HDF5 datasets in chunked reads,
spectrum files once per file, recordings once per file."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from learner.formats.crops import OpenStores
from learner.formats.errors import FormatError


@dataclass(frozen=True, slots=True)
class ItemRef:
    """Where an item's signal lies: a source file and the locator parts inside it."""

    path: str
    kind: str
    member: str | None = None
    position: int | None = None
    start_s: float | None = None
    end_s: float | None = None


@dataclass
class Features:
    """Model inputs for the refs that could be read, and why the others could not."""

    x: NDArray[np.float32]
    kept: NDArray[np.int64]
    """Indices into the refs of the rows of ``x``."""
    failures: list[tuple[int, str]]
    """``(index into the refs, reason)`` for refs that could not be read."""


def featurise(
    modality: str,
    refs: Sequence[ItemRef],
    settings: dict | None = None,
    stores: OpenStores | None = None,
) -> Features:
    """Model inputs for ``refs`` of one modality, with the project's preprocessing settings.

    Raises
    ------
    ValueError
        Unknown modality.
    """
    settings = settings or {}
    if modality == "crop":
        return crop_features(refs, size=int(settings.get("crop_size", 32)), stores=stores)
    if modality == "spectrum":
        return spectrum_features(refs, settings.get("spectrum", {}))
    if modality == "audio":
        return audio_features(refs, settings.get("audio", {}))
    raise ValueError(f"unknown modality {modality!r}")


def _by_file(refs: Sequence[ItemRef]) -> dict[tuple[str, str | None], list[int]]:
    groups: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for index, ref in enumerate(refs):
        groups[(ref.path, ref.member if ref.kind == "hdf5" else None)].append(index)
    return groups


def read_crop_blobs(
    refs: Sequence[ItemRef], stores: OpenStores | None = None
) -> tuple[list[bytes | None], list[tuple[int, str]]]:
    """Encoded bytes of every crop ref, one chunked read per HDF5 dataset."""
    from learner.formats.crops import read_hdf5_crops

    blobs: list[bytes | None] = [None] * len(refs)
    failures: list[tuple[int, str]] = []
    for (path, member), indices in _by_file(refs).items():
        try:
            if member is None:
                for i in indices:
                    blobs[i] = Path(refs[i].path).read_bytes()
                continue
            positions = np.array([refs[i].position for i in indices], dtype=np.int64)
            for i, blob in zip(
                indices, read_hdf5_crops(Path(path), member, positions, stores), strict=True
            ):
                blobs[i] = blob
        except (OSError, KeyError, ValueError) as e:
            failures += [(i, f"cannot be read from {path} ({e})") for i in indices]
    return blobs, failures


def crop_features(
    refs: Sequence[ItemRef], *, size: int = 32, stores: OpenStores | None = None
) -> Features:
    from learner.preprocess.crop import decode_and_prepare

    blobs, failures = read_crop_blobs(refs, stores)
    readable = [i for i, blob in enumerate(blobs) if blob is not None]
    x, bad = decode_and_prepare([blobs[i] for i in readable], size)
    bad_positions = {position for position, _ in bad}
    failures += [(readable[position], reason) for position, reason in bad]
    kept = np.array([i for p, i in enumerate(readable) if p not in bad_positions], dtype=np.int64)
    return Features(np.asarray(x, dtype=np.float32), kept, sorted(failures))


def spectrum_features(refs: Sequence[ItemRef], settings: dict) -> Features:
    """Preprocessed spectra, each file read once, the preprocessing run on the whole batch."""
    from learner.formats.spectra import read_spectrum_table
    from learner.preprocess.spectrum import SpectrumConfig, preprocess_spectra

    config = SpectrumConfig.from_dict(settings)
    pairs: dict[int, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
    failures: list[tuple[int, str]] = []
    for (path, _), indices in _by_file(refs).items():
        try:
            table = read_spectrum_table(Path(path))
        except (FormatError, OSError) as e:
            failures += [(i, f"{path}: {e}") for i in indices]
            continue
        columns = {c.position: c for c in table.columns}
        for i in indices:
            column = columns.get(refs[i].position or 1)
            if column is None:
                failures.append((i, f"{path}: no valid spectrum in column {refs[i].position}"))
                continue
            pairs[i] = (column.axis, column.intensity)
    kept = np.array(sorted(pairs), dtype=np.int64)
    x = preprocess_spectra([pairs[int(i)] for i in kept], config)
    return Features(x, kept, sorted(failures))


def audio_features(refs: Sequence[ItemRef], settings: dict) -> Features:
    """Log-mels of audio spans: each span read on its own, the spectrograms in batched STFTs."""
    from learner.preprocess.audio import AudioConfig, logmel_batch, read_segment

    config = AudioConfig.from_dict(settings)
    segments: list[NDArray[np.float32]] = []
    kept: list[int] = []
    failures: list[tuple[int, str]] = []
    for index, ref in enumerate(refs):
        try:
            segments.append(
                read_segment(
                    Path(ref.path),
                    ref.start_s or 0.0,
                    ref.end_s or 0.0,
                    sample_rate=config.sample_rate,
                )
            )
            kept.append(index)
        except (OSError, ValueError, RuntimeError) as e:
            failures.append((index, f"{ref.path} {ref.start_s}-{ref.end_s} s: {e}"))
    if not segments:
        return Features(
            np.zeros((0, *config.input_shape[1:]), np.float32), np.zeros(0, np.int64), failures
        )
    x = logmel_batch(segments, config.sample_rate, **config.spectrogram_settings())
    return Features(np.asarray(x, dtype=np.float32), np.asarray(kept, dtype=np.int64), failures)
