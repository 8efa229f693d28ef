"""Synthetic spatter crops: an HDF5 store of JPEG-encoded grayscale images and its index CSV.

A crop shows bright molten-metal droplets (blobs) on a dark, noisy background, the way a
high-speed camera over a weld or a powder bed sees them. The two classes differ only in the
distributions they draw from, which overlap:

``small_spatter``
    A spray of fine droplets: more blobs (typically 3–7), small (semi-major axis around 2 px at
    32 px), nearly round, bright and sharp.
``large_spatter``
    A few large ejections: fewer blobs (typically 1–3), larger (around 4 px), often elongated
    into streaks, somewhat dimmer and blurrier.

Blobs are rendered for a whole batch at once in numpy (an ellipse with a soft, blurred edge),
so the per-crop Python work is only the JPEG encoding; this is what lets the store reach
hundreds of thousands of crops in minutes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import h5py
import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from learner.formats.crops import HDF5_SUFFIXES, INDEX_HEADER

CROP_CLASSES = ("small_spatter", "large_spatter")
CROP_CLASS_WEIGHTS = (0.6, 0.4)
"""Fine spray is the commoner sight; the imbalance is mild so every class is well sampled."""
MAX_BLOBS = 8
MIN_SIZE = 8
JPEG_QUALITY = 90
RENDER_BATCH = 256
"""Crops rendered per numpy pass; bounds the (blobs, size, size) temporaries to a few MB."""

# Per class, in CROP_CLASSES order. Sizes and blur are for a 32 px crop and scale with size.
_EXTRA_BLOBS_MEAN = np.array([2.5, 1.2])
_MIN_BLOBS = np.array([2, 1])
_SEMI_MAJOR_PX = np.array([2.0, 4.0])
_ELONGATION_SPREAD = np.array([0.25, 0.5])
_BRIGHTNESS = np.array([[130.0, 230.0], [100.0, 210.0]])
_BLUR_PX = np.array([[0.4, 1.2], [0.6, 1.8]])


def render_crop(rng: np.random.Generator, label: str, size: int) -> NDArray[np.uint8]:
    """One ``size`` × ``size`` grayscale crop of class ``label``.

    Returns
    -------
    NDArray[np.uint8]
        The image, before any encoding.

    Raises
    ------
    ValueError
        ``label`` is not in ``CROP_CLASSES`` or ``size`` is below ``MIN_SIZE``.
    """
    if label not in CROP_CLASSES:
        raise ValueError(f"label must be one of {CROP_CLASSES}, got {label!r}")
    return render_crops(rng, np.array([CROP_CLASSES.index(label)]), size)[0]


def render_crops(
    rng: np.random.Generator, class_indices: NDArray[np.integer], size: int
) -> NDArray[np.uint8]:
    """A batch of crops, one per entry of ``class_indices`` (positions in ``CROP_CLASSES``).

    Returns
    -------
    NDArray[np.uint8]
        Shape ``(len(class_indices), size, size)``.

    Raises
    ------
    ValueError
        ``size`` is below ``MIN_SIZE`` or a class index is out of range.
    """
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} px, got {size}")
    classes = np.asarray(class_indices, dtype=np.int64)
    if classes.size and (classes.min() < 0 or classes.max() >= len(CROP_CLASSES)):
        raise ValueError(f"class indices must lie in 0..{len(CROP_CLASSES) - 1}")
    out = np.empty((len(classes), size, size), dtype=np.uint8)
    for start in range(0, len(classes), RENDER_BATCH):
        batch = classes[start : start + RENDER_BATCH]
        out[start : start + len(batch)] = _render_batch(rng, batch, size)
    return out


def _render_batch(
    rng: np.random.Generator, classes: NDArray[np.int64], size: int
) -> NDArray[np.uint8]:
    n, scale = len(classes), size / 32.0
    counts = np.minimum(_MIN_BLOBS[classes] + rng.poisson(_EXTRA_BLOBS_MEAN[classes]), MAX_BLOBS)
    active = np.arange(MAX_BLOBS)[None, :] < counts[:, None]
    shape = (n, MAX_BLOBS)
    column = classes[:, None]
    semi_major = scale * _SEMI_MAJOR_PX[column] * rng.lognormal(0.0, 0.35, shape)
    elongation = np.exp(np.abs(rng.normal(0.0, 1.0, shape)) * _ELONGATION_SPREAD[column])
    semi_minor = np.maximum(semi_major / elongation, 0.6 * scale)
    angle = rng.uniform(0.0, np.pi, shape)
    centre = rng.uniform(0.1 * size, 0.9 * size, (n, MAX_BLOBS, 2))
    # Crops come from a detector, so the first (main) droplet sits near the middle.
    centre[:, 0] = rng.normal(size / 2, 0.06 * size, (n, 2))
    low, high = _BRIGHTNESS[column, 0], _BRIGHTNESS[column, 1]
    brightness = low + (high - low) * rng.random(shape)
    low, high = _BLUR_PX[column, 0], _BLUR_PX[column, 1]
    blur = scale * (low + (high - low) * rng.random(shape))

    # Only the blobs that exist are rendered; they are contiguous per crop (row-major order),
    # so reduceat sums each crop's blobs without a Python loop.
    pick = active.ravel()
    blobs = _soft_ellipses(
        size,
        centre.reshape(-1, 2)[pick],
        semi_major.ravel()[pick],
        semi_minor.ravel()[pick],
        angle.ravel()[pick],
        blur.ravel()[pick],
    ) * brightness.ravel()[pick, None, None].astype(np.float32)
    first_blob = np.concatenate([[0], np.cumsum(counts)[:-1]])
    image = np.add.reduceat(blobs, first_blob, axis=0)
    image += _background(rng, n, size)
    return np.clip(image, 0, 255).astype(np.uint8)


def _soft_ellipses(
    size: int,
    centre: NDArray[np.float64],
    semi_major: NDArray[np.float64],
    semi_minor: NDArray[np.float64],
    angle: NDArray[np.float64],
    blur: NDArray[np.float64],
) -> NDArray[np.float32]:
    """Unit-height filled ellipses whose edge is a logistic (close to a Gaussian-blurred step)."""
    grid = np.arange(size, dtype=np.float32)
    dx = grid[None, None, :] - centre[:, 0, None, None].astype(np.float32)
    dy = grid[None, :, None] - centre[:, 1, None, None].astype(np.float32)
    cos = np.cos(angle).astype(np.float32)[:, None, None]
    sin = np.sin(angle).astype(np.float32)[:, None, None]
    a = semi_major.astype(np.float32)[:, None, None]
    b = semi_minor.astype(np.float32)[:, None, None]
    radius = np.sqrt(((dx * cos + dy * sin) / a) ** 2 + ((dy * cos - dx * sin) / b) ** 2)
    # 1.7 matches a logistic's slope to a Gaussian CDF's of the same blur sigma.
    sharpness = 1.7 * np.sqrt(a * b) / blur.astype(np.float32)[:, None, None]
    # The logistic written with tanh, which cannot overflow far outside the blob.
    edge = 0.5 + 0.5 * np.tanh(0.5 * (1.0 - radius) * sharpness)
    # Droplets glow hottest in the middle.
    return edge * (1.0 - 0.25 * np.minimum(radius, 1.0) ** 2)


def _background(rng: np.random.Generator, n: int, size: int) -> NDArray[np.float32]:
    level = rng.uniform(8.0, 40.0, (n, 1, 1)).astype(np.float32)
    noise_sigma = rng.uniform(2.0, 7.0, (n, 1, 1)).astype(np.float32)
    direction = rng.uniform(0.0, 2 * np.pi, (n, 1, 1))
    ramp = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    gradient = np.cos(direction) * ramp[None, None, :] + np.sin(direction) * ramp[None, :, None]
    tilt = rng.uniform(-10.0, 10.0, (n, 1, 1))
    noise = rng.standard_normal((n, size, size), dtype=np.float32)
    return level + noise_sigma * noise + (tilt * gradient).astype(np.float32)


def write_crop_store(
    out_dir: Path,
    n_crops: int,
    *,
    seed: int = 0,
    size: int = 32,
    file_name: str = "spatter.h5",
    datasets: int = 4,
    labelled_fraction: float = 1.0,
    chunk: int = 2000,
    progress: bool = False,
) -> tuple[Path, Path]:
    """Write ``n_crops`` JPEG crops into an HDF5 store and an ``index.csv`` beside it.

    The crops are split into ``datasets`` near-equal 1-D datasets ``video_000``, ``video_001``…
    of ``h5py.vlen_dtype(np.uint8)``, written ``chunk`` at a time so memory stays bounded.
    Exactly ``round(n_crops * labelled_fraction)`` rows, chosen at random, carry their class
    in the CSV; the others have an empty label. Output depends on every argument, ``chunk``
    included, and is byte-identical for identical arguments.

    Returns
    -------
    tuple[Path, Path]
        The HDF5 store and the index CSV.

    Raises
    ------
    ValueError
        A negative count, ``size`` below ``MIN_SIZE``, fewer than one dataset, a chunk below
        one, a labelled fraction outside [0, 1], or a file name that is a path or lacks an
        HDF5 suffix.
    RuntimeError
        OpenCV fails to encode a crop (not expected for uint8 images).
    """
    if n_crops < 0:
        raise ValueError(f"n_crops must be zero or more, got {n_crops}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} px, got {size}")
    if datasets < 1:
        raise ValueError(f"datasets must be at least 1, got {datasets}")
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    if not 0.0 <= labelled_fraction <= 1.0:
        raise ValueError(f"labelled_fraction must lie in [0, 1], got {labelled_fraction}")
    if Path(file_name).name != file_name or Path(file_name).suffix.lower() not in HDF5_SUFFIXES:
        raise ValueError(
            f"file_name must be a bare file name ending in one of {HDF5_SUFFIXES}, "
            f"got {file_name!r}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    h5_path, csv_path = out_dir / file_name, out_dir / "index.csv"
    rng = np.random.default_rng(seed)
    classes = rng.choice(len(CROP_CLASSES), n_crops, p=CROP_CLASS_WEIGHTS)
    labelled = np.zeros(n_crops, dtype=bool)
    labelled[rng.permutation(n_crops)[: round(n_crops * labelled_fraction)]] = True
    lengths = [len(part) for part in np.array_split(np.arange(n_crops), datasets)]
    encode_options = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]

    with (
        h5py.File(h5_path, "w") as store,
        csv_path.open("w", newline="", encoding="utf-8") as index_file,
        tqdm(total=n_crops, unit="crop", disable=not progress) as bar,
    ):
        writer = csv.writer(index_file, lineterminator="\n")
        writer.writerow(INDEX_HEADER)
        first = 0
        for number, length in enumerate(lengths):
            name = f"video_{number:03d}"
            dataset = store.create_dataset(
                name,
                shape=(length,),
                maxshape=(None,),
                dtype=h5py.vlen_dtype(np.uint8),
                chunks=(max(1, min(chunk, length)),),
                track_times=False,  # a timestamp would make equal seeds give unequal files
            )
            for offset in range(0, length, chunk):
                stop = min(offset + chunk, length)
                block = slice(first + offset, first + stop)
                images = render_crops(rng, classes[block], size)
                encoded = np.empty(len(images), dtype=object)
                for slot, image in enumerate(images):
                    ok, buffer = cv2.imencode(".jpg", image, encode_options)
                    if not ok:
                        raise RuntimeError("OpenCV failed to JPEG-encode a crop")
                    encoded[slot] = buffer.reshape(-1)
                dataset[offset:stop] = encoded
                writer.writerows(
                    (file_name, name, position, CROP_CLASSES[c] if keep else "")
                    for position, c, keep in zip(
                        range(offset, stop), classes[block], labelled[block], strict=True
                    )
                )
                bar.update(stop - offset)
            first += length
    return h5_path, csv_path
