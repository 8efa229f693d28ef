"""Training augmentation for crops on already prepared batches: upscale to 40 px, rotate by up
to ±15°, centre-crop back to 32 px, so rotation never shows black corners."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def augment_batch(
    batch: NDArray[np.float32],
    rng: np.random.Generator,
    *,
    pad_size: int = 40,
    max_degrees: float = 15.0,
) -> NDArray[np.float32]:
    """A rotated copy of each (size × size) image of ``batch``; the input is left unchanged."""
    import cv2

    n, size = batch.shape[0], batch.shape[-1]
    if pad_size < size:
        raise ValueError(f"pad_size {pad_size} is smaller than the crop size {size}")
    angles = rng.uniform(-max_degrees, max_degrees, n)
    offset = (pad_size - size) // 2
    centre = ((pad_size - 1) / 2, (pad_size - 1) / 2)
    out = np.empty_like(batch)
    for i in range(n):
        large = cv2.resize(batch[i], (pad_size, pad_size), interpolation=cv2.INTER_LINEAR)
        turn = cv2.getRotationMatrix2D(centre, float(angles[i]), 1.0)
        rotated = cv2.warpAffine(
            large,
            turn,
            (pad_size, pad_size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        out[i] = rotated[offset : offset + size, offset : offset + size]
    return out
