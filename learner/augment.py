"""Training augmentation for batches of prepared crops (see ``augment_crop``)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from learner.preprocess.crop import augment_crop


def augment_batch(
    batch: NDArray[np.float32],
    rng: np.random.Generator,
    *,
    pad_size: int = 40,
    max_degrees: float = 15.0,
) -> NDArray[np.float32]:
    """A rotated view of each (size × size) image of ``batch``; the input is left unchanged."""
    size = batch.shape[-1]
    out = np.empty_like(batch)
    for i in range(len(batch)):
        out[i] = augment_crop(batch[i], rng, size=size, pad_size=pad_size, max_degrees=max_degrees)
    return out
