"""Crops: decode, grayscale, resize to the model's size."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from learner.formats.crops import decode_crop
from learner.formats.errors import FormatError


def crop_tensor(image: NDArray[np.uint8], size: int = 32) -> NDArray[np.float32]:
    """A (size, size) float32 image in [0, 1]."""
    import cv2

    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return resized.astype(np.float32) / 255.0


def decode_and_prepare(
    blobs: Sequence[bytes], size: int = 32
) -> tuple[NDArray[np.float32], list[tuple[int, str]]]:
    """Decode and resize every blob; returns the good images stacked and ``(index, reason)``
    for the blobs that are not images."""
    images: list[NDArray[np.float32]] = []
    failures: list[tuple[int, str]] = []
    for index, blob in enumerate(blobs):
        try:
            images.append(crop_tensor(decode_crop(blob), size))
        except FormatError as e:
            failures.append((index, e.reason))
    x = np.stack(images) if images else np.zeros((0, size, size), np.float32)
    return x, failures
