"""Spatter crop extraction from video, on generated videos whose blobs and light are known."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from learner.formats.crops import INDEX_HEADER, list_crop_datasets, read_crop_index
from learner.formats.errors import FormatError
from learner.synthetic.video import write_spatter_video
from learner.video import FRAME_LOG_HEADER, VideoCropConfig, extract_crops

MIN_STEP_PX = 5
"""A blob that moves less than this between frames (at a bounce) may change too little area."""


@pytest.fixture(scope="module")
def spatter_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("video") / "layer_0001.avi"
    return path, write_spatter_video(path, seed=3, frames=60, blobs=3, blue_flash_frame=30)


def _log_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _box(row: dict[str, str]) -> tuple[int, ...]:
    return tuple(int(row[k]) for k in ("x", "y", "width", "height"))


def test_moving_blobs_are_cropped_one_per_blob(spatter_video, tmp_path):
    video, truth = spatter_video
    result = extract_crops(video, tmp_path)
    assert result.error is None
    assert result.frames_read == result.frames_expected == truth["frames"]
    rows = _log_rows(result.log_path)
    assert len(rows) == result.crops_kept
    per_frame = Counter(int(row["frame"]) for row in rows)
    boxes = truth["blob_boxes"]
    moving = [
        n
        for n in range(1, truth["frames"])
        if all(abs(a[0] - b[0]) >= MIN_STEP_PX for a, b in zip(boxes[n], boxes[n - 1], strict=True))
    ]
    assert len(moving) > truth["frames"] // 2
    for n in moving:
        assert per_frame[n] == len(boxes[n]), f"frame {n}"
    for row in rows:
        blob_boxes = boxes[int(row["frame"])]
        assert sum(_overlap(_box(row), blob) for blob in blob_boxes) == 1, row


def test_recoater_light_is_rejected(spatter_video, tmp_path):
    video, truth = spatter_video
    result = extract_crops(video, tmp_path)
    assert result.crops_rejected_blue >= 1
    for row in _log_rows(result.log_path):
        assert not _overlap(_box(row), truth["flash_box"]), row


def test_store_decodes_and_agrees_with_the_logs(spatter_video, tmp_path):
    video, _ = spatter_video
    result = extract_crops(video, tmp_path)
    datasets, errors = list_crop_datasets(result.h5_path)
    assert errors == []
    assert [d.name for d in datasets] == ["crops_000"]
    assert datasets[0].length == result.crops_kept
    rows = _log_rows(result.log_path)
    assert tuple(rows[0]) == FRAME_LOG_HEADER
    with h5py.File(result.h5_path, "r") as store:
        for row in rows:
            encoded = store[row["dataset"]][int(row["index"])]
            image = cv2.imdecode(np.asarray(encoded, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
            assert image.shape == (int(row["height"]), int(row["width"]))  # grayscale
    index, index_errors = read_crop_index(result.index_path)
    assert index_errors == []
    assert [(r.dataset_name, r.index, r.label) for r in index] == [
        (row["dataset"], int(row["index"]), "") for row in rows
    ]
    assert {r.hdf5_file for r in index} == {result.h5_path.resolve()}
    with result.index_path.open(encoding="utf-8") as f:
        assert f.readline().strip() == ",".join(INDEX_HEADER)


def test_same_video_gives_identical_files(spatter_video, tmp_path):
    video, _ = spatter_video
    first = extract_crops(video, tmp_path / "a")
    second = extract_crops(video, tmp_path / "b")
    for a, b in [(first.h5_path, second.h5_path), (first.log_path, second.log_path)]:
        assert a.read_bytes() == b.read_bytes()


def test_small_datasets_split_the_crops(spatter_video, tmp_path):
    video, _ = spatter_video
    config = VideoCropConfig(max_per_dataset=5, write_chunk=3)
    result = extract_crops(video, tmp_path, config)
    datasets, _ = list_crop_datasets(result.h5_path)
    lengths = {d.name: d.length for d in datasets}
    assert len(lengths) == -(-result.crops_kept // 5)
    assert sorted(lengths) == [f"crops_{n:03d}" for n in range(len(lengths))]
    assert all(length == 5 for name, length in lengths.items() if name != max(lengths))
    assert sum(lengths.values()) == result.crops_kept
    rows = _log_rows(result.log_path)
    assert Counter(row["dataset"] for row in rows) == Counter(lengths)
    assert [row["frame"] for row in rows] == [
        row["frame"] for row in _log_rows(extract_crops(video, tmp_path / "one").log_path)
    ]


def test_colour_crops_keep_three_channels(spatter_video, tmp_path):
    video, _ = spatter_video
    result = extract_crops(video, tmp_path, VideoCropConfig.from_dict({"grayscale": False}))
    with h5py.File(result.h5_path, "r") as store:
        image = cv2.imdecode(np.asarray(store["crops_000"][0]), cv2.IMREAD_UNCHANGED)
    assert image.ndim == 3 and image.shape[2] == 3


def test_truncated_video_keeps_the_readable_frames(spatter_video, tmp_path):
    video, truth = spatter_video
    data = video.read_bytes()
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(data[: len(data) // 2])
    result = extract_crops(truncated, tmp_path / "out")
    assert 1 < result.frames_read < truth["frames"]
    assert result.error is not None
    assert f"after {result.frames_read} of {truth['frames']} expected frames" in result.error
    full = _log_rows(extract_crops(video, tmp_path / "full").log_path)
    # The last frame read is likely cut short, so its crops are left out.
    readable = [r for r in full if int(r["frame"]) < result.frames_read - 1]
    assert _log_rows(result.log_path) == readable
    assert result.crops_kept == len(readable) > 0


def test_random_bytes_are_rejected(tmp_path):
    noise = tmp_path / "noise.avi"
    noise.write_bytes(np.random.default_rng(0).bytes(50_000))
    with pytest.raises(FormatError, match="cannot be opened as a video"):
        extract_crops(noise, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_video_is_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="no video file"):
        extract_crops(tmp_path / "absent.avi", tmp_path)


def test_config_round_trips_and_unknown_keys_are_rejected():
    config = VideoCropConfig(min_area=1000, grayscale=False)
    assert VideoCropConfig.from_dict(config.as_dict()) == config
    with pytest.raises(ValueError, match="unknown video crop settings"):
        VideoCropConfig.from_dict({"treshold": 20})


@pytest.mark.parametrize(
    "values",
    [{"blur_kernel": 4}, {"threshold": 300}, {"min_area": 20000}, {"threshold": True}],
)
def test_bad_config_is_rejected(values):
    with pytest.raises(ValueError):
        VideoCropConfig.from_dict(values)


def test_crowded_synthetic_video_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="cannot hold"):
        write_spatter_video(tmp_path / "v.avi", blobs=10)
