"""Ingest checks content against the project's modality, reports every labels-CSV row it could
not use, and gives summaries that add up, in the report, the CLI text and ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from loupe.cli import app
from prelabel.ingest import ingest
from store import catalog
from store.engine import transaction

runner = CliRunner()
BUCKETS = ("files_new", "files_already_ingested", "files_label", "files_ignored", "files_failed")


def _spectrum(path: Path, shift: float = 0.0) -> Path:
    axis = np.linspace(200, 1800, 60)
    rows = [f"{float(a)!r} {float(np.sin(a / 90 + shift))!r}" for a in axis]
    path.write_text("\n".join(rows) + "\n")
    return path


def _errors(engine, project_id: int) -> list[tuple[str, str | None, str]]:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return [
            (Path(e.path).name, e.member, e.reason)
            for e in catalog.list_ingest_errors(session, project_id)
        ]


def _cli(db_url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--db", db_url])
    return result.exit_code, result.stdout


def _adds_up(result: dict) -> bool:
    return sum(result[key] for key in BUCKETS) == result["files_seen"]


def test_audacity_label_tracks_are_not_spectra_is_rejected(
    engine, make_project, shared_data
) -> None:
    pid = make_project("raman", "spectrum", ["stable", "weathered"])
    report = ingest(engine, "raman", [shared_data / "audio/finch"], progress=False)
    assert report.items_added == 0 and report.sources_added == 0
    result = report.as_dict()
    assert result["files_failed"] == 12 and _adds_up(result)
    reasons = {reason for name, _, reason in _errors(engine, pid) if name.endswith(".txt")}
    assert all("not a Raman shift axis" in r or "not a spectrum" in r for r in reasons)


def test_audacity_track_with_text_labels_is_named_as_such(engine, make_project, tmp_path) -> None:
    pid = make_project("raman", "spectrum", ["stable"])
    lines = [f"{0.5 * i!r}\t{0.5 * i + 0.25!r}\tsong" for i in range(30)]
    (tmp_path / "track.txt").write_text("\n".join(lines) + "\n")
    report = ingest(engine, "raman", [tmp_path], progress=False)
    assert report.items_added == 0
    [(name, _, reason)] = _errors(engine, pid)
    assert name == "track.txt" and reason.startswith("an Audacity label track")


def test_raven_table_in_a_spectrum_project_is_rejected(engine, make_project, tmp_path) -> None:
    pid = make_project("raman", "spectrum", ["stable"])
    rows = [
        f"{i}\tSpectrogram 1\t1\t{i * 10.0}\t{i * 10 + 5.0}\t{i * 100.0}\tsong" for i in range(40)
    ]
    header = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tAnnotation"
    (tmp_path / "r.selections.txt").write_text("\n".join([header, *rows]) + "\n")
    report = ingest(engine, "raman", [tmp_path], progress=False)
    assert report.items_added == 0
    [(_, _, reason)] = _errors(engine, pid)
    assert reason.startswith("a Raven selection table")


def test_unmatched_labels_csv_rows_are_reported(engine, make_project, tmp_path, db_url) -> None:
    pid = make_project("raman", "spectrum", ["stable", "weathered"], {"label_prefixes": {}})
    _spectrum(tmp_path / "a.txt")
    (tmp_path / "labels.csv").write_text("file,label\na.txt,stable\nb.txt,weathered\n")
    report = ingest(engine, "raman", [tmp_path], labels_csv=tmp_path / "labels.csv", progress=False)
    assert report.labels_imported == 1
    assert report.as_dict()["labels_unmatched"] == 1
    assert report.as_dict()["unmatched_labels"] == [{"line": 3, "file": "b.txt", "column": None}]
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member) == ("labels.csv", "line 3")
    assert reason.startswith("b.txt matches no ingested file") and str(tmp_path) in reason

    _spectrum(tmp_path / "c.txt", shift=1)
    (tmp_path / "labels.csv").write_text("file,label\nc.txt,stable\nmissing.txt,stable\n")
    code, out = _cli(
        db_url,
        "ingest",
        "raman",
        str(tmp_path),
        "--labels",
        str(tmp_path / "labels.csv"),
        "--quiet",
    )
    assert code == 0
    assert "1 labels CSV rows match no ingested file" in out and "missing.txt (line 3)" in out
    code, out = _cli(
        db_url,
        "ingest",
        "raman",
        str(tmp_path),
        "--labels",
        str(tmp_path / "labels.csv"),
        "--quiet",
        "--json",
    )
    assert json.loads(out)["unmatched_labels"] == [
        {"line": 3, "file": "missing.txt", "column": None}
    ]


def test_reingest_with_a_corrected_labels_csv_adds_its_labels(
    engine, make_project, tmp_path
) -> None:
    make_project("raman", "spectrum", ["stable", "weathered"], {"label_prefixes": {}})
    data = tmp_path / "data"
    data.mkdir()
    _spectrum(data / "a.txt")
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\ndata/A.txt,stable\n")  # a typo: the file is a.txt
    first = ingest(engine, "raman", [data], labels_csv=labels, progress=False)
    assert first.labels_imported == 0 and len(first.labels_unmatched) == 1
    labels.write_text("file,label\ndata/a.txt,stable\n")
    second = ingest(engine, "raman", [data], labels_csv=labels, progress=False)
    assert second.sources_already_ingested == 1 and second.labels_imported == 1
    assert second.labels_unmatched == []
    third = ingest(engine, "raman", [data], labels_csv=labels, progress=False)
    assert third.labels_imported == 0  # the same label is not imported twice


def test_summary_adds_up_in_report_text_and_json(make_project, tmp_path, db_url) -> None:
    make_project("raman", "spectrum", ["stable"], {"label_prefixes": {}})
    tmp_path = tmp_path / "data"  # beside the SQLite database, which is no input
    tmp_path.mkdir()
    _spectrum(tmp_path / "a.txt")
    (tmp_path / "copy.txt").write_bytes((tmp_path / "a.txt").read_bytes())
    (tmp_path / "broken.txt").write_text("200 1\n300 2\n")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    (tmp_path / "labels.csv").write_text("file,label\na.txt,stable\n")
    code, out = _cli(
        db_url,
        "ingest",
        "raman",
        str(tmp_path),
        str(tmp_path / "gone"),
        "--labels",
        str(tmp_path / "labels.csv"),
        "--json",
        "--quiet",
    )
    result = json.loads(out)
    assert code == 0 and _adds_up(result)
    assert [result[key] for key in ("files_seen", *BUCKETS)] == [6, 1, 1, 1, 1, 2]
    _spectrum(tmp_path / "b.txt", shift=2)
    code, out = _cli(db_url, "ingest", "raman", str(tmp_path), "--quiet")
    assert code == 0
    # without --labels the CSV is one more file that is not a spectrum, and says so
    assert "6 files: 1 new, 2 already ingested, 0 label files, 1 ignored, 2 failed" in out
    assert "labels.csv: a labels CSV (columns file,label), not a spectrum" in out


def test_resumed_ingest_reports_what_it_completed_and_exits_0(
    engine, make_project, shared_data, monkeypatch, db_url
) -> None:
    make_project("piped", "crop", ["defect", "no_defect"])
    real_insert = catalog.insert_items
    calls = {"n": 0}

    def killed_on_second_batch(session, source, rows):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return real_insert(session, source, rows)

    monkeypatch.setattr(catalog, "insert_items", killed_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        ingest(engine, "piped", [shared_data / "crops/piped"], batch_size=100, progress=False)
    monkeypatch.setattr(catalog, "insert_items", real_insert)
    code, out = _cli(db_url, "ingest", "piped", str(shared_data / "crops/piped"), "--quiet")
    assert code == 0, out
    assert "1 new (1 resumed)" in out and "284 items added" in out
    assert "nothing could be ingested" not in out


def test_only_failures_exit_1(make_project, tmp_path, db_url) -> None:
    make_project("raman", "spectrum", ["stable"])
    (tmp_path / "broken.txt").write_text("x y\n")
    code, out = _cli(db_url, "ingest", "raman", str(tmp_path), "--quiet")
    assert code == 1 and "nothing could be ingested" in out


def test_labels_csv_for_an_audio_project_is_rejected(make_project, tmp_path, db_url) -> None:
    make_project("rec", "audio", ["x"])
    (tmp_path / "labels.csv").write_text("file,label\nr.wav,x\n")
    code, _ = _cli(db_url, "ingest", "rec", str(tmp_path), "--labels", str(tmp_path / "labels.csv"))
    assert code == 2


def test_image_decoder_messages_are_recorded_not_printed(
    engine, make_project, tmp_path, capfd
) -> None:
    pid = make_project("c", "crop", ["a"])
    image = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    (tmp_path / "a").mkdir()
    jpg = bytearray(cv2.imencode(".jpg", image)[1].tobytes())
    jpg[len(jpg) // 2 : len(jpg) // 2 + 50] = bytes(50)
    (tmp_path / "a" / "corrupt.jpg").write_bytes(bytes(jpg))
    png = bytearray(cv2.imencode(".png", image)[1].tobytes())
    png[20] ^= 0xFF
    (tmp_path / "a" / "crc.png").write_bytes(bytes(png))
    cv2.imwrite(str(tmp_path / "a" / "good.png"), image)
    capfd.readouterr()
    report = ingest(engine, "c", [tmp_path], progress=False)
    assert capfd.readouterr().err == ""
    errors = {name: reason for name, _, reason in _errors(engine, pid)}
    assert "Corrupt JPEG data" in errors["corrupt.jpg"]
    assert "libpng error" in errors["crc.png"]
    assert report.items_added == 1 and report.as_dict()["files_failed"] == 2


def test_corrupt_jpeg_entry_is_recorded_by_verify_not_printed(
    engine, make_project, tmp_path, capfd
) -> None:
    import h5py

    from prelabel.verify import verify_crops

    pid = make_project("c", "crop", ["a"])
    image = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    good = cv2.imencode(".jpg", image)[1].ravel()
    corrupt = good.copy()
    corrupt[len(corrupt) // 2 : len(corrupt) // 2 + 50] = 0  # decodes, to grey, with a warning
    with h5py.File(tmp_path / "crops.h5", "w") as store:
        data = store.create_dataset("frames", (2,), dtype=h5py.vlen_dtype(np.uint8))
        data[0], data[1] = good, corrupt
    ingest(engine, "c", [tmp_path], progress=False)
    capfd.readouterr()
    assert verify_crops(engine, "c", progress=False) == {"checked": 2, "unreadable": 1}
    assert capfd.readouterr().err == ""
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member) == ("crops.h5", "frames[1]") and "Corrupt JPEG data" in reason
