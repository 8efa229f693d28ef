"""Spatter crops from metal-3D-printing videos, found by differencing consecutive frames.

For each frame after the first: the absolute difference from the previous frame, in grayscale,
blurred, thresholded and dilated, gives regions of change; each external contour whose area lies
in the configured range is cropped by its bounding box from the current colour frame. Crops
whose mean blue exceeds mean red plus mean green are the recoater light, not spatter, and are
dropped. The rest are JPEG-encoded into an HDF5 crop store (``crops_000``, ``crops_001``, …),
with a frame log saying where each came from and an ``index.csv`` with empty labels, so the
folder ingests like any other crop store.

Output is byte-identical for the same video and configuration.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from learner.formats.crops import INDEX_HEADER
from learner.formats.errors import FormatError

FRAME_LOG_HEADER = ("frame", "dataset", "index", "x", "y", "width", "height", "area")


@dataclass(frozen=True, slots=True)
class VideoCropConfig:
    """The numbers of the extraction recipe.

    ``area`` is ``cv2.contourArea`` of the dilated region's external contour (the polygon it
    encloses, holes included), not the bounding-box area, which overstates thin diagonal
    streaks. ``grayscale`` crops are what the models train on; colour keeps the BGR crop.
    ``write_chunk`` crops are held in memory before they are appended to the store; it also
    sets the HDF5 chunk size.
    """

    blur_kernel: int = 5
    threshold: int = 20
    dilate_kernel: int = 3
    dilate_iterations: int = 3
    min_area: int = 2000
    max_area: int = 15000
    jpeg_quality: int = 95
    grayscale: bool = True
    max_per_dataset: int = 10000
    write_chunk: int = 512

    def __post_init__(self) -> None:
        for field in fields(self):
            value, wanted = getattr(self, field.name), bool if field.name == "grayscale" else int
            # bool is an int subclass; True must not pass as a threshold.
            if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
                raise ValueError(f"{field.name} must be {wanted.__name__}, got {value!r}")
        for name in ("blur_kernel", "dilate_kernel"):
            size = getattr(self, name)
            if size < 1 or size % 2 == 0:
                raise ValueError(f"{name} must be an odd number of pixels, got {size}")
        if not 0 <= self.threshold <= 255:
            raise ValueError(f"threshold must lie in 0..255, got {self.threshold}")
        if self.dilate_iterations < 0:
            raise ValueError(f"dilate_iterations must be 0 or more, got {self.dilate_iterations}")
        if not 0 <= self.min_area <= self.max_area:
            raise ValueError(
                f"areas must satisfy 0 <= min_area <= max_area, got {self.min_area}, "
                f"{self.max_area}"
            )
        if not 0 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must lie in 0..100, got {self.jpeg_quality}")
        for name in ("max_per_dataset", "write_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> VideoCropConfig:
        """A configuration from (a subset of) its fields; the rest keep their defaults.

        Raises
        ------
        ValueError
            An unknown key, or a value of the wrong type or out of range.
        """
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown video crop settings {unknown}; known are {sorted(known)}"
            )
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class VideoCropResult:
    """What an extraction wrote and counted. ``frames_expected`` is the container's frame
    count, 0 where it does not say; ``error`` says why reading stopped early, else None.
    ``crops_rejected_area`` counts every region of change outside the area range, noise specks
    included."""

    h5_path: Path
    log_path: Path
    index_path: Path
    frames_read: int
    frames_expected: int
    crops_kept: int
    crops_rejected_blue: int
    crops_rejected_area: int
    error: str | None = None
