"""Crops: HDF5 stores of encoded image bytes with an optional index CSV, and image folders.

Listing a store reads only dataset shapes; images are decoded when they are first needed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from learner.formats.errors import FormatError
from learner.formats.paths import OutsideRootError, contained
from learner.formats.text import parse_index, read_text

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
        first = read_text(path).splitlines()[:1]
        header = next(csv.reader(first), [])
    except (FormatError, csv.Error):
        return False
    return tuple(h.strip().lower() for h in header[:3]) == INDEX_HEADER[:3]


def read_crop_index(
    path: Path, roots: Sequence[Path] = ()
) -> tuple[list[IndexRow], list[FormatError]]:
    """Rows of an index CSV (``hdf5_file,dataset_name,index,label``); HDF5 paths are relative
    to the CSV and must resolve inside its folder or one of ``roots`` (the ingested folder, the
    media roots; see :func:`learner.formats.paths.contained`). Returns good rows and one error
    per row that does not parse (a field too many or too few, an index that is not a
    non-negative integer, the same entry given two labels) or names a store outside them.

    Raises
    ------
    FormatError
        The file cannot be decoded or split into CSV rows, or lacks the header.
    """
    rows: list[IndexRow] = []
    errors: list[FormatError] = []
    allowed = (path.parent, *roots)
    stores: dict[str, Path | OutsideRootError] = {}  # one resolution per distinct file
    first_label: dict[tuple[Path, str, int], IndexRow] = {}
    reader = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if tuple(header[:3]) != INDEX_HEADER[:3]:
            raise FormatError(f"expected the header {','.join(INDEX_HEADER)}", "line 1")
        for fields in reader:
            line = reader.line_num
            if not any(field.strip() for field in fields):
                continue
            if not 3 <= len(fields) <= max(len(header), len(INDEX_HEADER)):
                errors.append(
                    FormatError(f"expected 4 fields, found {len(fields)}", f"line {line}")
                )
                continue
            try:
                index = parse_index(fields[2], "index", f"line {line}")
            except FormatError as e:
                errors.append(e)
                continue
            label = fields[3].strip() if len(fields) > 3 else ""
            name = fields[0].strip()
            store = stores.get(name)
            if store is None:
                store = stores[name] = _contained_store(path.parent / name, allowed)
            if isinstance(store, OutsideRootError):
                errors.append(OutsideRootError(store.reason, f"line {line}"))
                continue
            row = IndexRow(store, fields[1].strip(), index, label, line)
            earlier = first_label.setdefault((store, row.dataset_name, index), row)
            if earlier is not row and earlier.label != label:
                errors.append(
                    FormatError(
                        f"{row.dataset_name}[{index}] is labelled {earlier.label!r} at line "
                        f"{earlier.line} and {label!r} here",
                        f"line {line}",
                    )
                )
                continue
            rows.append(row)
    except csv.Error as e:
        raise FormatError(f"not valid CSV ({e})", f"line {reader.line_num}") from e
    return rows, errors


def _contained_store(store: Path, roots: Sequence[Path]) -> Path | OutsideRootError:
    try:
        return contained(store, roots)
    except OutsideRootError as e:
        return e


def image_class(image: Path, root: Path) -> str:
    """The class of an image in a folder tree: the name of its parent folder below ``root``
    (for an image reached through a link into a media root, the folder it lies in)."""
    if not image.is_relative_to(root):
        return image.parent.name
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


HARMLESS_DECODER_MESSAGES = ("libpng warning",)
"""Decoder messages about metadata (a colour profile, say), after which the pixels are right."""


def check_crop(data: bytes | NDArray[np.uint8]) -> list[str]:
    """Decode an image to check it, with the decoder's messages caught, not printed.

    Returns the harmless messages the decoder gave (for the ingest error record).

    Raises
    ------
    FormatError
        The image does not decode, or decodes with a message that its data is corrupt (a JPEG
        decoder fills what it cannot read with grey and says so): the reason quotes it.
    """
    from learner.formats.diagnostics import library_messages, summary

    with library_messages() as messages:
        try:
            decode_crop(data)
            failure = None
        except FormatError as e:
            failure = e
    if failure is not None:
        detail = f" ({summary(messages)})" if messages else ""
        raise FormatError(f"{failure.reason}{detail}") from failure
    serious = [m for m in messages if not m.lower().startswith(HARMLESS_DECODER_MESSAGES)]
    if serious:
        raise FormatError(f"corrupt image data: the decoder says {summary(serious)}")
    return messages


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
