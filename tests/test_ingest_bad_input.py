"""Bad input: each case is recorded with its file and reason, and the rest of the run goes on."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import soundfile
from sqlalchemy import Engine

from prelabel.ingest import ingest
from prelabel.verify import verify_crops
from store.catalog import list_ingest_errors, project_status
from store.engine import transaction


def _wav(path: Path, seconds: float = 2.0, rate: int = 8000) -> Path:
    rng = np.random.default_rng(0)
    soundfile.write(path, rng.normal(0, 0.1, int(seconds * rate)), rate, subtype="PCM_16")
    return path


def _errors(engine: Engine, project_id: int) -> list[tuple[str, str | None, str]]:
    with transaction(engine) as session:
        return [
            (Path(e.path).name, e.member, e.reason) for e in list_ingest_errors(session, project_id)
        ]


def _status(engine: Engine, project_id: int) -> dict:
    with transaction(engine) as session:
        return project_status(session, project_id)


def _spectrum(path: Path, axis, values) -> Path:
    path.write_text("\n".join(f"{a} {v}" for a, v in zip(axis, values, strict=True)))
    return path


def test_truncated_wav_fails(engine, make_project, tmp_path) -> None:
    pid = make_project("a", "audio", ["x"])
    good = _wav(tmp_path / "good.wav")
    data = _wav(tmp_path / "full.wav", seconds=3).read_bytes()
    (tmp_path / "full.wav").unlink()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    (tmp_path / "good.txt").write_text("0.1\t0.5\tx\n")
    report = ingest(engine, "a", [tmp_path], progress=False)
    [(name, _, reason)] = _errors(engine, pid)
    assert name == "cut.wav" and reason.startswith("truncated: the header declares")
    assert report.sources_added == 1 and good.name not in str(report.errors)
    assert _status(engine, pid)["items"] == 1


def test_wav_header_only_fails(engine, make_project, tmp_path) -> None:
    pid = make_project("a", "audio", ["x"])
    (tmp_path / "stub.wav").write_bytes(_wav(tmp_path / "w.wav").read_bytes()[:30])
    (tmp_path / "w.wav").unlink()
    report = ingest(engine, "a", [tmp_path], progress=False)
    [(name, _, reason)] = _errors(engine, pid)
    assert name == "stub.wav" and reason.startswith("not a readable audio file")
    assert not report.ingested_anything


def test_label_span_past_end_of_recording_fails(engine, make_project, tmp_path) -> None:
    pid = make_project("a", "audio", ["x"])
    _wav(tmp_path / "rec.wav", seconds=2.0)
    (tmp_path / "rec.txt").write_text("0.1\t0.4\tx\n1.5\t2.6\tx\n")
    ingest(engine, "a", [tmp_path], progress=False)
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member) == ("rec.txt", "line 2")
    assert reason == "span 1.5–2.6 s passes the end of the recording (2.000 s)"
    assert _status(engine, pid)["items"] == 1


def test_label_file_that_does_not_parse_fails(engine, make_project, tmp_path) -> None:
    pid = make_project("a", "audio", ["x"])
    _wav(tmp_path / "rec.wav")
    (tmp_path / "rec.txt").write_text("0.1\t0.4\tx\nstart\tend\tx\n")
    report = ingest(engine, "a", [tmp_path], progress=False)
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member) == ("rec.txt", "line 2")
    assert reason == "start 'start' is not a number"
    assert report.sources_added == 1 and report.items_added == 1  # line 1 is kept


def test_unknown_class_in_label_file_fails(engine, make_project, tmp_path) -> None:
    pid = make_project("a", "audio", ["x"])
    _wav(tmp_path / "rec.wav")
    (tmp_path / "rec.txt").write_text("0.1\t0.4\tx\n0.5\t0.9\tbird\n")
    report = ingest(engine, "a", [tmp_path], progress=False)
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member) == ("rec.txt", "line 2")
    assert reason == "unknown class 'bird' (project classes: x)"
    assert report.items_added == 2 and report.labels_imported == 1


def test_nan_spectrum_fails(engine, make_project, tmp_path) -> None:
    pid = make_project("s", "spectrum", ["stable", "weathered"])
    axis = np.linspace(200, 1800, 50)
    values = np.sin(axis / 100)
    values[7] = np.nan
    _spectrum(tmp_path / "sta-nan.txt", axis, values)
    _spectrum(tmp_path / "sta-ok.txt", axis, np.cos(axis / 90))
    ingest(engine, "s", [tmp_path], progress=False)
    [(name, member, reason)] = _errors(engine, pid)
    assert name == "sta-nan.txt" and member == "column 2 (column 2)"
    assert reason == "1 NaN or empty intensity (first at point 8)"
    assert _status(engine, pid)["items"] == 1


def test_non_monotonic_axis_fails(engine, make_project, tmp_path) -> None:
    pid = make_project("s", "spectrum", ["stable", "weathered"])
    axis = list(np.linspace(200, 1800, 30))
    axis[10], axis[11] = axis[11], axis[10]
    _spectrum(tmp_path / "wea-x.txt", axis, np.ones(30))
    ingest(engine, "s", [tmp_path], progress=False)
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member) == ("wea-x.txt", "column 1")
    assert reason == "axis is not monotonic (points 11–12: 806.897 then 751.724)"


def test_decreasing_axis_is_reversed_not_rejected(engine, make_project, tmp_path) -> None:
    pid = make_project("s", "spectrum", ["stable", "weathered"])
    _spectrum(tmp_path / "wea-x.txt", np.linspace(1800, 200, 30), np.arange(30.0))
    ingest(engine, "s", [tmp_path], progress=False)
    assert _errors(engine, pid) == [] and _status(engine, pid)["items"] == 1


def test_five_point_spectrum_fails(engine, make_project, tmp_path) -> None:
    pid = make_project("s", "spectrum", ["stable", "weathered"])
    _spectrum(tmp_path / "sta-short.txt", [100, 200, 300, 400, 500], [1, 2, 3, 2, 1])
    report = ingest(engine, "s", [tmp_path], progress=False)
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member, reason) == (
        "sta-short.txt",
        "column 1",
        "5 points; a spectrum needs at least 10",
    )
    assert not report.ingested_anything


def test_hdf5_entry_of_random_bytes_fails_on_first_decode(
    engine, make_project, tmp_path, shared_data
) -> None:
    pid = make_project("c", "crop", ["defect", "no_defect"])
    source = h5py.File(shared_data / "crops/piped/piped_dev.h5", "r")
    name = next(iter(source))
    good = [np.asarray(source[name][i]) for i in range(3)]
    source.close()
    rng = np.random.default_rng(1)
    with h5py.File(tmp_path / "crops.h5", "w") as store:
        data = store.create_dataset("video_0", (4,), dtype=h5py.vlen_dtype(np.uint8))
        for i, blob in enumerate([*good[:2], rng.integers(0, 256, 500, dtype=np.uint8), good[2]]):
            data[i] = blob
    report = ingest(engine, "c", [tmp_path], progress=False)
    assert report.items_added == 4 and _errors(engine, pid) == []  # registering decodes nothing
    result = verify_crops(engine, "c", progress=False)
    assert result == {"checked": 4, "unreadable": 1}
    [(file, member, reason)] = _errors(engine, pid)
    assert (file, member) == ("crops.h5", "video_0[2]")
    assert reason == "not a decodable image (neither a JPEG nor a PNG signature, 500 bytes)"
    assert verify_crops(engine, "c", progress=False)["unreadable"] == 1
    assert _status(engine, pid)["ingest_errors"] == 1  # a second check records nothing new


def test_file_that_is_not_hdf5_fails(engine, make_project, tmp_path, shared_data) -> None:
    pid = make_project("c", "crop", ["defect", "no_defect"])
    (tmp_path / "broken.h5").write_bytes(b"this is not an HDF5 file\n" * 10)
    report = ingest(engine, "c", [tmp_path, shared_data / "crops/piped"], progress=False)
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member, reason) == ("broken.h5", None, "not an HDF5 file (no HDF5 signature)")
    assert report.items_added == 384


def test_missing_path_fails_and_the_rest_goes_on(
    engine, make_project, tmp_path, shared_data
) -> None:
    pid = make_project("c", "crop", ["defect", "no_defect"])
    report = ingest(
        engine, "c", [tmp_path / "nowhere", shared_data / "crops/piped"], progress=False
    )
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, reason) == ("nowhere", "no such file or folder")
    assert report.items_added == 384


def test_rerun_of_bad_input_records_each_error_once(engine, make_project, tmp_path) -> None:
    pid = make_project("s", "spectrum", ["stable", "weathered"])
    _spectrum(tmp_path / "sta-short.txt", [1, 2, 3], [1, 2, 3])
    ingest(engine, "s", [tmp_path], progress=False)
    ingest(engine, "s", [tmp_path], progress=False)
    assert len(_errors(engine, pid)) == 1
