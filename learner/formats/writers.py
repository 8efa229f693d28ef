"""Writers for exported labels: Audacity label tracks, Raven selection tables, spectra files,
HDF5 crop stores with their index. Byte-for-byte deterministic for the same input."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

RAVEN_HEADER = (
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Annotation",
)


@dataclass(frozen=True, slots=True)
class LabelledSpan:
    start_s: float
    end_s: float
    label: str
    f_low_hz: float | None = None
    f_high_hz: float | None = None


def write_audacity(path: Path, spans: Sequence[LabelledSpan]) -> None:
    """An Audacity label track; a span with frequency bounds gets its ``\\`` spectral line."""
    lines = []
    for span in sorted(spans, key=lambda s: (s.start_s, s.end_s, s.label)):
        lines.append(f"{span.start_s:.6f}\t{span.end_s:.6f}\t{span.label}")
        if span.f_low_hz is not None and span.f_high_hz is not None:
            lines.append(f"\\\t{span.f_low_hz:.6f}\t{span.f_high_hz:.6f}")
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_raven(path: Path, spans: Sequence[LabelledSpan], *, nyquist_hz: float) -> None:
    """A Raven selection table; spans without bounds cover 0 Hz to Nyquist."""
    rows = ["\t".join(RAVEN_HEADER)]
    ordered = sorted(spans, key=lambda s: (s.start_s, s.end_s, s.label))
    for number, span in enumerate(ordered, start=1):
        low = span.f_low_hz if span.f_low_hz is not None else 0.0
        high = span.f_high_hz if span.f_high_hz is not None else nyquist_hz
        rows.append(
            f"{number}\tSpectrogram 1\t1\t{span.start_s:.6f}\t{span.end_s:.6f}\t"
            f"{low:.3f}\t{high:.3f}\t{span.label}"
        )
    path.write_text("".join(row + "\n" for row in rows), encoding="utf-8")


def write_two_column(path: Path, axis: NDArray[np.float64], intensity: NDArray[np.float64]) -> None:
    """A spectrum as ``axis intensity`` lines, with full float precision."""
    lines = (f"{a!r}\t{v!r}" for a, v in zip(axis.tolist(), intensity.tolist(), strict=True))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_rows_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def write_crop_store(path: Path, datasets: dict[str, list[bytes]]) -> None:
    """An HDF5 file of encoded crops, one vlen-uint8 dataset per name, with no timestamps
    (so the same crops give the same bytes)."""
    import h5py

    with h5py.File(path, "w", libver="earliest", track_order=False) as store:
        for name in sorted(datasets):
            blobs = datasets[name]
            data = store.create_dataset(
                name, (len(blobs),), dtype=h5py.vlen_dtype(np.uint8), track_times=False
            )
            for index, blob in enumerate(blobs):
                data[index] = np.frombuffer(blob, dtype=np.uint8)
