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
from typing import Any, TextIO

import cv2
import h5py
import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from learner.formats.crops import INDEX_HEADER
from learner.formats.errors import FormatError

FRAME_LOG_HEADER = ("frame", "dataset", "index", "x", "y", "width", "height", "area")


@dataclass(frozen=True, slots=True)
class VideoCropConfig:
    """The numbers of the extraction recipe.

    ``threshold`` keeps blurred differences strictly above it. ``area`` is ``cv2.contourArea``
    of the dilated region's external contour (the area its outline encloses, any holes counted
    in), not the bounding-box area, which overstates thin diagonal streaks. ``grayscale`` crops
    are what the models train on; colour keeps the BGR crop. ``write_chunk`` crops are held in
    memory before they are appended to the store; it also sets the HDF5 chunk size.
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
            raise ValueError(f"unknown video crop settings {unknown}; known are {sorted(known)}")
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


@dataclass(frozen=True, slots=True)
class ChangeRegion:
    """A region of change between two frames: its bounding box and its contour area, in px."""

    x: int
    y: int
    width: int
    height: int
    area: float


def change_regions(
    previous: NDArray[np.uint8], current: NDArray[np.uint8], config: VideoCropConfig
) -> list[ChangeRegion]:
    """Every region where ``current`` differs from ``previous`` (BGR frames of one size), of any
    area, ordered top to bottom then left to right.

    Returns
    -------
    list[ChangeRegion]
        One per external contour of the thresholded, dilated difference.
    """
    difference = cv2.cvtColor(cv2.absdiff(previous, current), cv2.COLOR_BGR2GRAY)
    blurred = cv2.GaussianBlur(difference, (config.blur_kernel, config.blur_kernel), 0)
    _, mask = cv2.threshold(blurred, config.threshold, 255, cv2.THRESH_BINARY)
    kernel = np.ones((config.dilate_kernel, config.dilate_kernel), dtype=np.uint8)
    mask = cv2.dilate(mask, kernel, iterations=config.dilate_iterations)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    regions = []
    for contour in contours:
        x, y, width, height = cv2.boundingRect(contour)
        regions.append(ChangeRegion(x, y, width, height, float(cv2.contourArea(contour))))
    return sorted(regions, key=lambda r: (r.y, r.x, r.height, r.width))


def is_blue_dominant(crop: NDArray[np.uint8]) -> bool:
    """Whether a BGR crop's mean blue exceeds its mean red plus mean green: the recoater light,
    whose switching on is a change the differencing sees but is not spatter."""
    blue, green, red, _ = cv2.mean(crop)
    return blue > red + green


def extract_crops(
    video: Path,
    out_dir: Path,
    config: VideoCropConfig = VideoCropConfig(),  # noqa: B008 - frozen, so safe to share
    *,
    progress: bool = False,
) -> VideoCropResult:
    """Extract spatter crops from ``video`` into ``out_dir``.

    Writes ``<video stem>.h5`` (datasets ``crops_000``, ``crops_001``, … of at most
    ``config.max_per_dataset`` JPEG crops each, always at least ``crops_000``),
    ``<video stem>.frames.csv`` (``frame,dataset,index,x,y,width,height,area``; frames counted
    from 0, the box in the frame's pixels) and ``index.csv`` (``hdf5_file,dataset_name,index,
    label`` with empty labels). Existing files of these names are replaced.

    A video that stops decoding before the frame count its container states keeps the crops of
    the frames read before it, except the last, which is likely cut short, and the result's
    ``error`` says how far it got. Where the container states no count, an early end cannot
    be told from the true end.

    Returns
    -------
    VideoCropResult
        The paths written and the counts.

    Raises
    ------
    FileNotFoundError
        ``video`` is not a file.
    FormatError
        The file cannot be opened as a video, or not a single frame of it decodes.
    RuntimeError
        OpenCV fails to JPEG-encode a crop (not expected for image frames).
    """
    video, out_dir = Path(video), Path(out_dir)
    if not video.is_file():
        raise FileNotFoundError(f"no video file at {video}")
    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise FormatError("cannot be opened as a video (no demuxer or decoder recognises it)")
        ok, first = capture.read()
        if not ok:
            raise FormatError("opens as a video but not a single frame can be decoded")
        # Containers without a frame count report 0 or a negative number.
        expected = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        out_dir.mkdir(parents=True, exist_ok=True)
        h5_path = out_dir / f"{video.stem}.h5"
        log_path = out_dir / f"{video.stem}.frames.csv"
        index_path = out_dir / "index.csv"
        frames_read, error, cut_short = 1, None, False
        previous: NDArray[np.uint8] = np.asarray(first, dtype=np.uint8)
        with (
            h5py.File(h5_path, "w", libver="earliest") as store,
            log_path.open("w", newline="", encoding="utf-8") as log_file,
            index_path.open("w", newline="", encoding="utf-8") as index_file,
            tqdm(total=expected or None, initial=1, unit="frame", disable=not progress) as bar,
        ):
            writer = _CropWriter(store, h5_path.name, log_file, index_file, config)
            # A frame is cropped once the next one decodes: the last frame of a cut-off file is
            # often decoded only in part, the rest left over from the frame before.
            held: tuple[int, NDArray[np.uint8], list[ChangeRegion]] | None = None
            while True:
                # read() cannot tell the end of the stream from a frame that fails to decode,
                # so reading stops at either.
                ok, decoded = capture.read()
                if not ok:
                    break
                frame: NDArray[np.uint8] = np.asarray(decoded, dtype=np.uint8)
                if frame.shape != previous.shape:
                    error = (
                        f"frame {frames_read} is {frame.shape[1]}×{frame.shape[0]} after "
                        f"frames of {previous.shape[1]}×{previous.shape[0]}; reading stopped"
                    )
                    break
                if held is not None:
                    writer.take(*held)
                held = (frames_read, frame, change_regions(previous, frame, config))
                previous = frame
                frames_read += 1
                bar.update(1)
            cut_short = error is None and frames_read < expected
            if held is not None and not cut_short:
                writer.take(*held)
            writer.flush()
    finally:
        capture.release()
    if cut_short:
        error = (
            f"video ends after {frames_read} of {expected} expected frames: the rest is missing "
            f"or cannot be decoded; frame {frames_read - 1} (the last read, counting from 0) "
            f"gave no crops, as it is likely cut short"
        )
    return VideoCropResult(
        h5_path=h5_path,
        log_path=log_path,
        index_path=index_path,
        frames_read=frames_read,
        frames_expected=expected,
        crops_kept=writer.kept,
        crops_rejected_blue=writer.rejected_blue,
        crops_rejected_area=writer.rejected_area,
        error=error,
    )


class _CropWriter:
    """Filters a frame's regions, JPEG-encodes the crops kept and appends them to the HDF5
    store ``write_chunk`` at a time, opening a new dataset when one is full; the frame-log and
    index rows are written as their crops land, so the three files always agree."""

    def __init__(
        self,
        store: h5py.File,
        file_name: str,
        log_file: TextIO,
        index_file: TextIO,
        config: VideoCropConfig,
    ) -> None:
        self._store, self._file_name, self._config = store, file_name, config
        self._vlen = h5py.vlen_dtype(np.uint8)
        self._encode_options = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]
        self._log = csv.writer(log_file, lineterminator="\n")
        self._index = csv.writer(index_file, lineterminator="\n")
        self._log.writerow(FRAME_LOG_HEADER)
        self._index.writerow(INDEX_HEADER)
        self.kept = self.rejected_blue = self.rejected_area = 0
        self._number, self._written = -1, 0
        self._pending: list[NDArray[np.uint8]] = []
        self._origins: list[tuple[int, ChangeRegion]] = []
        self._open_next()

    def take(
        self, frame_number: int, frame: NDArray[np.uint8], regions: list[ChangeRegion]
    ) -> None:
        config = self._config
        for region in regions:
            if not config.min_area <= region.area <= config.max_area:
                self.rejected_area += 1
                continue
            x, y, w, h = region.x, region.y, region.width, region.height
            crop = frame[y : y + h, x : x + w]
            if is_blue_dominant(crop):
                self.rejected_blue += 1
                continue
            pixels = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if config.grayscale else crop
            ok, buffer = cv2.imencode(".jpg", pixels, self._encode_options)
            if not ok:
                raise RuntimeError(f"OpenCV failed to JPEG-encode a crop of frame {frame_number}")
            self._add(buffer.reshape(-1), frame_number, region)
            self.kept += 1

    def _add(self, encoded: NDArray[np.uint8], frame_number: int, region: ChangeRegion) -> None:
        if self._written + len(self._pending) == self._config.max_per_dataset:
            self.flush()
            self._open_next()
        self._pending.append(encoded)
        self._origins.append((frame_number, region))
        if len(self._pending) == self._config.write_chunk:
            self.flush()

    def _open_next(self) -> None:
        self._number += 1
        self._name = f"crops_{self._number:03d}"
        self._dataset = self._store.create_dataset(
            self._name,
            shape=(0,),
            maxshape=(None,),
            chunks=(min(self._config.write_chunk, self._config.max_per_dataset),),
            dtype=self._vlen,
            track_times=False,  # a timestamp would make the same video give different bytes
        )
        self._written = 0

    def flush(self) -> None:
        if not self._pending:
            return
        start, stop = self._written, self._written + len(self._pending)
        block = np.empty(len(self._pending), dtype=object)
        for slot, encoded in enumerate(self._pending):  # slice-assigning would broadcast
            block[slot] = encoded
        self._dataset.resize((stop,))
        self._dataset[start:stop] = block
        for position, (frame_number, r) in enumerate(self._origins, start=start):
            self._log.writerow(
                (frame_number, self._name, position, r.x, r.y, r.width, r.height, f"{r.area:.1f}")
            )
            self._index.writerow((self._file_name, self._name, position, ""))
        self._written = stop
        self._pending.clear()
        self._origins.clear()
