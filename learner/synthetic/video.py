"""A synthetic metal-3D-printing video: bright spatter blobs moving over a dark, noisy powder bed,
and the recoater light switching on, for testing spatter crop extraction.

Each blob travels back and forth along its own horizontal lane at a steady speed, so the blobs'
difference regions never touch one another. The recoater light is a large, bright blue
rectangle in a strip above the lanes. It switches on at ``blue_flash_frame`` and stays on to the
end, so the only change it makes is its appearance; a light that went off again would leave a
dark, not blue, difference region behind, which the blue rule (judged on the current frame)
cannot reject.

The file is Motion-JPEG in AVI (fourcc ``MJPG``), which OpenCV's bundled FFmpeg both writes and
reads; JPEG compression alters pixel values by a few levels, far below the extractor's
threshold.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

BLOB_RADIUS_PX = 22
"""With a step of 6–10 px and the default dilation, a blob's difference region covers about
2,500–3,500 px: inside the extractor's default area range of 2,000–15,000 px."""
BLOB_SPEED_PX = (6.0, 10.0)
BLOB_COLOURS_BGR = ((235, 240, 245), (40, 150, 255))
"""White-hot and orange droplets; neither is blue-dominant."""
LANE_GAP_PX = 12
"""Clear space between neighbouring lanes, wider than the extractor's blur plus dilation."""
FLASH_SIZE_PX = (120, 36)
"""Width, height of the recoater light: about 5,300 px once dilated, inside the area range."""
FLASH_BGR = (255, 70, 30)
BACKGROUND_LEVEL = 18.0
GRAIN_SIGMA = 4.0
NOISE_LEVELS = 5
"""Sensor noise is uniform in ±5 grey levels (standard deviation about 3) per pixel and channel."""
FOURCC = "MJPG"


def write_spatter_video(
    path: Path,
    *,
    seed: int = 0,
    frames: int = 60,
    size: tuple[int, int] = (320, 240),
    fps: int = 30,
    blobs: int = 3,
    blue_flash_frame: int | None = 30,
) -> dict:
    """Write an AVI of ``blobs`` moving spatter blobs and a recoater light flash.

    ``size`` is (width, height). Frames are numbered from 0, as a video reader counts them.

    Returns
    -------
    dict
        The ground truth: ``"path"`` (str), ``"frames"``, ``"size"``, ``"fps"``,
        ``"blob_boxes"`` (per frame a list of ``(x, y, width, height)`` boxes, one per blob, in
        lane order), ``"flash_frame"`` (int or None) and ``"flash_box"`` (``(x, y, width,
        height)`` or None).

    Raises
    ------
    ValueError
        Fewer than two frames, a non-positive fps or blob count below zero, a flash frame
        outside 1 .. frames - 1, or a frame too small to hold the lanes and the light strip.
    RuntimeError
        OpenCV cannot open a Motion-JPEG writer for ``path``.
    """
    width, height = size
    if frames < 2:
        raise ValueError(f"frames must be at least 2, got {frames}")
    if fps < 1:
        raise ValueError(f"fps must be at least 1, got {fps}")
    if blobs < 0:
        raise ValueError(f"blobs must be zero or more, got {blobs}")
    if blue_flash_frame is not None and not 1 <= blue_flash_frame < frames:
        raise ValueError(
            f"blue_flash_frame must lie in 1..{frames - 1} (a change between two frames), "
            f"got {blue_flash_frame}"
        )
    flash_w, flash_h = FLASH_SIZE_PX
    strip = flash_h + 2 * LANE_GAP_PX if blue_flash_frame is not None else 0
    lane = 2 * BLOB_RADIUS_PX + LANE_GAP_PX
    needed = (strip + blobs * lane, max(flash_w + 2 * LANE_GAP_PX, 4 * BLOB_RADIUS_PX))
    if height < needed[0] or width < needed[1]:
        raise ValueError(
            f"a {width}×{height} frame cannot hold {blobs} blob lanes of {lane} px and the "
            f"light strip; it needs at least {needed[1]}×{needed[0]}"
        )

    rng = np.random.default_rng(seed)
    radius = BLOB_RADIUS_PX
    span = width - 2 * radius  # centre x travels over [radius, width - radius]
    start = rng.uniform(0.0, span, blobs)
    speed = rng.uniform(*BLOB_SPEED_PX, blobs) * rng.choice([-1.0, 1.0], blobs)
    colour = rng.integers(0, len(BLOB_COLOURS_BGR), blobs)
    lane_top = strip + (height - strip - blobs * lane) // 2
    centre_y = [lane_top + i * lane + lane // 2 for i in range(blobs)]
    flash_box, light_on_from = None, frames
    if blue_flash_frame is not None:
        light_on_from = blue_flash_frame
        left = int(rng.integers(LANE_GAP_PX, width - flash_w - LANE_GAP_PX + 1))
        flash_box = (left, LANE_GAP_PX, flash_w, flash_h)
    # The static grain of the powder bed, plus fresh sensor noise in every frame. The noise is
    # uniform integers: drawing Gaussian noise took most of the time to write a video.
    grain = rng.standard_normal((height, width, 1), dtype=np.float32)
    bed = np.rint(BACKGROUND_LEVEL + GRAIN_SIGMA * grain).astype(np.int16)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*FOURCC), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot open a {FOURCC} video writer for {path}")
    blob_boxes: list[list[tuple[int, int, int, int]]] = []
    try:
        for number in range(frames):
            noise = rng.integers(-NOISE_LEVELS, NOISE_LEVELS + 1, (height, width, 3), np.int16)
            frame = np.clip(bed + noise, 0, 255).astype(np.uint8)
            if flash_box is not None and number >= light_on_from:
                x, y, w, h = flash_box
                frame[y : y + h, x : x + w] = FLASH_BGR
            boxes = []
            for i in range(blobs):
                cx = radius + _ping_pong(start[i] + speed[i] * number, span)
                centre = (round(cx), centre_y[i])
                cv2.circle(frame, centre, radius, BLOB_COLOURS_BGR[colour[i]], -1, cv2.LINE_AA)
                boxes.append((centre[0] - radius, centre[1] - radius, 2 * radius, 2 * radius))
            blob_boxes.append(boxes)
            writer.write(frame)
    finally:
        writer.release()
    return {
        "path": str(path),
        "frames": frames,
        "size": (width, height),
        "fps": fps,
        "blob_boxes": blob_boxes,
        "flash_frame": blue_flash_frame,
        "flash_box": flash_box,
    }


def _ping_pong(position: float, span: float) -> float:
    """``position`` folded into [0, span], as a blob bouncing off both edges travels."""
    folded = position % (2 * span)
    return folded if folded <= span else 2 * span - folded
