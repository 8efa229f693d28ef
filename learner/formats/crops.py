"""Crops: HDF5 stores of encoded image bytes with an optional index CSV, and image folders.

Listing a store reads only dataset shapes; images are decoded when they are first needed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from learner.formats.errors import FormatError

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
INDEX_HEADER = ("hdf5_file", "dataset_name", "index", "label")


@dataclass(frozen=True, slots=True)
class CropDataset:
    name: str
    length: int


@dataclass(frozen=True, slots=True)
class IndexRow:
    """A row of an index CSV; ``line`` is where it was read, for messages."""

    hdf5_file: Path
    dataset_name: str
    index: int
    label: str
    line: int


def list_crop_datasets(path: Path) -> tuple[list[CropDataset], list[FormatError]]:
    """The datasets of encoded images in an HDF5 file, without reading any image.

    Returns the usable datasets and one error per dataset of another type.

    Raises
    ------
    FormatError
        The file is not HDF5 or cannot be opened.
    """
    import h5py

    if not h5py.is_hdf5(path):
        raise FormatError("not an HDF5 file (no HDF5 signature)")
    datasets: list[CropDataset] = []
    errors: list[FormatError] = []
    try:
        with h5py.File(path, "r") as store:

            def visit(name: str, node: object) -> None:
                if not isinstance(node, h5py.Dataset):
                    return
                base = h5py.check_vlen_dtype(node.dtype)
                if base is None or np.dtype(base) != np.uint8 or node.ndim != 1:
                    errors.append(
                        FormatError(
                            f"expected a 1-D dataset of variable-length uint8 (encoded images), "
                            f"found {node.dtype} with shape {node.shape}",
                            name,
                        )
                    )
                    return
                datasets.append(CropDataset(name, int(node.shape[0])))

            store.visititems(visit)
    except OSError as e:
        raise FormatError(f"the HDF5 file cannot be read ({e})") from e
    return datasets, errors


def is_crop_index(path: Path) -> bool:
    """Whether a CSV file is an index of HDF5 crops (by its header)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError):
        return False
    return tuple(h.strip().lower() for h in header[:3]) == INDEX_HEADER[:3]


def read_crop_index(path: Path) -> tuple[list[IndexRow], list[FormatError]]:
    """Rows of an index CSV (``hdf5_file,dataset_name,index,label``); HDF5 paths are relative
    to the CSV. Returns good rows and one error per row that does not parse."""
    rows: list[IndexRow] = []
    errors: list[FormatError] = []
    stores: dict[str, Path] = {}  # one path resolution per distinct file, not per row
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        if tuple(header[:3]) != INDEX_HEADER[:3]:
            raise FormatError(f"expected the header {','.join(INDEX_HEADER)}", "line 1")
        for line, fields in enumerate(reader, start=2):
            if not any(field.strip() for field in fields):
                continue
            if len(fields) < 3:
                errors.append(
                    FormatError(f"expected 4 fields, found {len(fields)}", f"line {line}")
                )
                continue
            try:
                index = int(fields[2])
            except ValueError:
                errors.append(FormatError(f"index {fields[2]!r} is not an integer", f"line {line}"))
                continue
            label = fields[3].strip() if len(fields) > 3 else ""
            name = fields[0].strip()
            store = stores.get(name)
            if store is None:
                store = stores[name] = (path.parent / name).resolve()
            rows.append(IndexRow(store, fields[1].strip(), index, label, line))
    return rows, errors


def image_class(image: Path, root: Path) -> str:
    """The class of an image in a folder tree: the name of its parent folder below ``root``."""
    relative = image.relative_to(root)
    return relative.parts[-2] if len(relative.parts) > 1 else ""


def decode_crop(data: bytes | NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Decode encoded image bytes (JPEG, PNG, ...) to a grayscale uint8 array.

    Raises
    ------
    FormatError
        The bytes are empty or not a decodable image.
    """
    import cv2

    buffer = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    if buffer.size == 0:
        raise FormatError("empty entry: no image bytes")
    image = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE)
    if image is None:
        kind = _signature(buffer[:8].tobytes())
        raise FormatError(f"not a decodable image ({kind}, {buffer.size} bytes)")
    return image


def _signature(head: bytes) -> str:
    if head.startswith(b"\xff\xd8"):
        return "JPEG signature but corrupt or truncated data"
    if head.startswith(b"\x89PNG"):
        return "PNG signature but corrupt or truncated data"
    return "neither a JPEG nor a PNG signature"


class OpenStores:
    """HDF5 files kept open for the life of a reader (a worker opens each file once)."""

    def __init__(self) -> None:
        self._files: dict[Path, object] = {}

    def get(self, path: Path):  # type: ignore[no-untyped-def]
        import h5py

        if path not in self._files:
            self._files[path] = h5py.File(path, "r")
        return self._files[path]

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()  # type: ignore[attr-defined]
        self._files.clear()

    def __enter__(self) -> OpenStores:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_hdf5_crops(
    path: Path, dataset: str, positions: NDArray[np.int64], stores: OpenStores | None = None
) -> list[bytes]:
    """Encoded bytes of the entries at ``positions`` of one dataset, in one chunked read;
    through ``stores`` the file stays open for the next call."""
    import h5py

    order = np.argsort(positions)
    if stores is not None:
        values = stores.get(path)[dataset][positions[order]] if len(positions) else []
    else:
        with h5py.File(path, "r") as store:
            values = store[dataset][positions[order]] if len(positions) else []
    out: list[bytes] = [b""] * len(positions)
    for slot, value in zip(order, values, strict=True):
        out[slot] = np.asarray(value, dtype=np.uint8).tobytes()
    return out
