"""Crops: decode, grayscale, resize to the model's size, and the training rotation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from learner.formats.crops import decode_crop
from learner.formats.errors import FormatError


def _grayscale(image: NDArray[np.generic]) -> NDArray[np.generic]:
    import cv2

    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        return cv2.cvtColor(image, code)
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a non-empty grayscale or BGR image, got shape {image.shape}")
    return image


def crop_tensor(image: NDArray[np.uint8], size: int = 32) -> NDArray[np.float32]:
    """A model input: the image in grayscale, resized by area averaging.

    Returns
    -------
    NDArray[np.float32]
        Shape (size, size), values in [0, 1].

    Raises
    ------
    ValueError
        A non-positive size, or an image that is empty or not 2-D / BGR.
    """
    import cv2

    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    resized = cv2.resize(_grayscale(image), (size, size), interpolation=cv2.INTER_AREA)
    return resized.astype(np.float32) / 255.0


def augment_crop(
    image: NDArray[np.generic],
    rng: np.random.Generator,
    *,
    size: int = 32,
    pad_size: int = 40,
    max_degrees: float = 15.0,
) -> NDArray[np.generic]:
    """A training view of a crop: resize to ``pad_size``, rotate about the centre by a random
    angle in ±``max_degrees``, centre-crop ``size``. Reflected borders fill what the rotation
    uncovers, and the margin keeps most of them out of the crop, so no black corners appear.

    Returns
    -------
    NDArray
        Shape (size, size), the dtype of ``image`` (uint8 0–255 or float32 0–1).

    Raises
    ------
    ValueError
        ``pad_size`` smaller than ``size``, or an image that is empty or not 2-D / BGR.
    """
    import cv2

    if not 0 < size <= pad_size:
        raise ValueError(f"need 0 < size <= pad_size, got size {size} and pad_size {pad_size}")
    large = cv2.resize(_grayscale(image), (pad_size, pad_size), interpolation=cv2.INTER_AREA)
    angle = float(rng.uniform(-max_degrees, max_degrees))
    centre = ((pad_size - 1) / 2, (pad_size - 1) / 2)
    turn = cv2.getRotationMatrix2D(centre, angle, 1.0)
    rotated = cv2.warpAffine(
        large, turn, (pad_size, pad_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    offset = (pad_size - size) // 2
    return rotated[offset : offset + size, offset : offset + size]


def decode_and_prepare(
    blobs: Sequence[bytes], size: int = 32
) -> tuple[NDArray[np.float32], list[tuple[int, str]]]:
    """Decode and resize every blob.

    Returns
    -------
    tuple
        The good images stacked, shape (n_good, size, size) float32 in [0, 1], in blob order,
        and ``(index into blobs, reason)`` for the blobs that are not images.

    Raises
    ------
    ValueError
        A non-positive size.
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    out = np.empty((len(blobs), size, size), dtype=np.float32)
    kept = 0
    failures: list[tuple[int, str]] = []
    for index, blob in enumerate(blobs):
        try:
            out[kept] = crop_tensor(decode_crop(blob), size)
        except FormatError as e:
            failures.append((index, e.reason))
            continue
        kept += 1
    return out[:kept], failures
