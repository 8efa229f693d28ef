"""Properties of the binary readers (recordings, HDF5 crop stores, encoded images): valid files
read back exactly; damaged ones are rejected with a ``FormatError``, or read to what they hold,
and nothing the decoding libraries say reaches the terminal."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st

from learner.formats import audio, crops
from learner.formats.diagnostics import library_messages
from learner.formats.errors import FormatError

AUDIO_FORMATS = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}

SCRATCH = tempfile.TemporaryDirectory(prefix="loupe-prop-")
"""One folder for every generated file of the module, removed when the run ends."""


def _folder() -> Path:
    return Path(tempfile.mkdtemp(dir=SCRATCH.name))


@st.composite
def recordings(draw):  # type: ignore[no-untyped-def]
    kind = draw(st.sampled_from(sorted(AUDIO_FORMATS)))
    rate = draw(st.sampled_from([8000, 22050, 44100]))
    frames = draw(st.integers(200, 6000))
    channels = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**16))
    signal = np.random.default_rng(seed).uniform(-0.5, 0.5, (frames, channels))
    path = _folder() / f"rec.{kind}"
    soundfile.write(path, signal, rate, subtype=AUDIO_FORMATS[kind])
    return path, rate, frames, channels


@given(recordings())
def test_recording_round_trip(recording) -> None:
    path, rate, frames, channels = recording
    info = audio.recording_info(path)
    assert (info.sample_rate, info.frames, info.channels) == (rate, frames, channels)


@given(recordings(), st.floats(0, 1, exclude_max=True), st.sampled_from(["truncate", "flip"]))
def test_damaged_recording_is_rejected_or_fully_readable(recording, where, how) -> None:
    path, _, _, _ = recording
    data = bytearray(path.read_bytes())
    at = int(where * len(data))
    if how == "truncate":
        data = data[:at]
    else:
        data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    try:
        info = audio.recording_info(path)
    except FormatError:
        return
    try:
        decoded = soundfile.read(path, always_2d=True)[0]
    except (RuntimeError, soundfile.LibsndfileError):
        pytest.fail("accepted a recording that does not decode")
    assert len(decoded) == info.frames, "the header promises frames the file does not hold"


# --- HDF5 crop stores ----------------------------------------------------------------------

dataset_kinds = st.sampled_from(["vlen-uint8", "vlen-uint8-2d", "float", "int-2d", "vlen-int16"])


@given(st.lists(st.tuples(dataset_kinds, st.integers(0, 5)), min_size=1, max_size=4))
def test_crop_store_lists_only_encoded_image_datasets(kinds) -> None:
    path = _folder() / "store.h5"
    with h5py.File(path, "w") as f:
        for n, (kind, length) in enumerate(kinds):
            name = f"d{n}"
            if kind.startswith("vlen"):
                base = np.int16 if kind == "vlen-int16" else np.uint8
                shape = (length, 2) if kind.endswith("2d") else (length,)
                f.create_dataset(name, shape=shape, dtype=h5py.vlen_dtype(base))
            elif kind == "float":
                f.create_dataset(name, data=np.zeros(length))
            else:
                f.create_dataset(name, data=np.zeros((length, 3), dtype=np.int32))
    datasets, errors = crops.list_crop_datasets(path)
    good = {f"d{n}": length for n, (kind, length) in enumerate(kinds) if kind == "vlen-uint8"}
    assert {d.name: d.length for d in datasets} == good
    assert {e.member for e in errors} == {f"d{n}" for n in range(len(kinds))} - set(good)


@given(st.binary(max_size=2000), st.booleans())
def test_any_bytes_as_a_crop_store_are_rejected_or_listed(data, signed) -> None:
    path = _folder() / "store.h5"
    path.write_bytes((b"\x89HDF\r\n\x1a\n" if signed else b"") + data)
    with contextlib.suppress(FormatError):
        crops.list_crop_datasets(path)


# --- encoded images ------------------------------------------------------------------------

images = st.tuples(st.integers(1, 48), st.integers(1, 48), st.integers(0, 2**16)).map(
    lambda t: (np.random.default_rng(t[2]).random((t[0], t[1])) * 255).astype(np.uint8)
)


@given(images)
def test_png_round_trip(image) -> None:
    ok, png = cv2.imencode(".png", image)
    assert ok
    assert crops.check_crop(png.tobytes()) == []
    assert np.array_equal(crops.decode_crop(png.tobytes()), image)


@given(
    image=images,
    suffix=st.sampled_from([".png", ".jpg"]),
    where=st.floats(0, 1, exclude_max=True),
    how=st.sampled_from(["truncate", "flip", "zero run"]),
)
def test_damaged_image_is_rejected_or_exact_and_quiet(image, suffix, where, how, capfd) -> None:
    ok, encoded = cv2.imencode(suffix, image)
    data = bytearray(encoded.tobytes())
    at = int(where * len(data))
    if how == "truncate":
        data = data[:at]
    elif how == "flip":
        data[at] ^= 0xFF
    else:
        data[at : at + 32] = bytes(len(data[at : at + 32]))
    try:
        crops.check_crop(bytes(data))
    except FormatError:
        pass
    else:
        if suffix == ".png":  # lossless: what is accepted is the image that was written
            with library_messages():
                decoded = crops.decode_crop(bytes(data))
            assert np.array_equal(decoded, image)
    assert capfd.readouterr().err == ""
