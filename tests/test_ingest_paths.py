"""Paths ingest follows stay inside the ingested folder or a media root; a bad line of a label
track costs that line only."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import soundfile
from sqlalchemy import Engine

from prelabel.ingest import ingest
from store.catalog import list_ingest_errors, project_status
from store.engine import transaction
from store.settings import load_settings


def _png(value: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".png", np.full((8, 8), value, dtype=np.uint8))
    assert ok
    return encoded.reshape(-1)


def _secret_store(path: Path, entries: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as store:
        data = store.create_dataset("secret", (entries,), dtype=h5py.vlen_dtype(np.uint8))
        for i in range(entries):
            data[i] = _png(40 * i)
    return path


def _errors(engine: Engine, project_id: int) -> list[tuple[str, str | None, str]]:
    with transaction(engine) as session:
        return [
            (Path(e.path).name, e.member, e.reason) for e in list_ingest_errors(session, project_id)
        ]


def _status(engine: Engine, project_id: int) -> dict:
    with transaction(engine) as session:
        return project_status(session, project_id)


def _index_naming_outside(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    _secret_store(outside / "secret.h5")
    folder = tmp_path / "incoming"
    folder.mkdir()
    rows = [f"../outside/secret.h5,secret,{i},defect" for i in range(3)]
    (folder / "index.csv").write_text("\n".join(["hdf5_file,dataset_name,index,label", *rows]))
    return folder, outside


def test_index_naming_a_store_outside_the_folder_is_rejected(
    engine, make_project, tmp_path
) -> None:
    pid = make_project("c", "crop", ["defect", "ok"])
    folder, _ = _index_naming_outside(tmp_path)
    report = ingest(engine, "c", [folder], progress=False)
    assert report.items_added == 0 and report.sources_added == 0
    errors = _errors(engine, pid)
    assert [(name, member) for name, member, _ in errors] == [
        ("index.csv", "line 2"),
        ("index.csv", "line 3"),
        ("index.csv", "line 4"),
    ]
    assert all(reason.startswith("outside the ingested folder") for *_, reason in errors)
    assert "secret.h5" in errors[0][2]
    assert _status(engine, pid)["items"] == 0


def test_index_naming_a_store_in_a_media_root_is_registered(engine, make_project, tmp_path) -> None:
    pid = make_project("c", "crop", ["defect", "ok"])
    folder, outside = _index_naming_outside(tmp_path)
    report = ingest(engine, "c", [folder], progress=False, media_roots=[outside])
    assert _errors(engine, pid) == []
    assert report.sources_added == 1 and report.items_added == 3
    assert report.labels_imported == 3


def test_media_roots_setting_reads_a_list() -> None:
    assert load_settings(media_roots="/a:/b").media_roots == [Path("/a"), Path("/b")]
    assert load_settings(media_roots='["/a"]').media_roots == [Path("/a")]


def test_image_symlinked_out_of_the_folder_is_rejected(engine, make_project, tmp_path) -> None:
    pid = make_project("c", "crop", ["defect", "ok"])
    outside = tmp_path / "outside"
    outside.mkdir()
    cv2.imwrite(str(outside / "private.png"), np.zeros((8, 8), np.uint8))
    folder = tmp_path / "incoming" / "ok"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "mine.png"), np.zeros((8, 8), np.uint8) + 9)
    (folder / "link.png").symlink_to(outside / "private.png")
    report = ingest(engine, "c", [folder.parent], progress=False)
    assert report.items_added == 1
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member) == ("link.png", None)
    assert reason.startswith("outside the ingested folder")
    assert report.as_dict()["files_failed"] == 1
    allowed = ingest(engine, "c", [folder.parent], progress=False, media_roots=[outside])
    assert allowed.items_added == 1  # the linked image, now that its folder is a media root


def test_labels_csv_naming_a_file_outside_is_rejected(engine, make_project, tmp_path) -> None:
    pid = make_project("c", "crop", ["defect", "ok"])
    folder = tmp_path / "incoming"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "elsewhere.png").write_bytes(b"")
    labels = folder / "labels.csv"
    labels.write_text("file,label\na.png,ok\n../elsewhere.png,defect\n")
    report = ingest(engine, "c", [folder], labels_csv=labels, progress=False)
    assert report.labels_imported == 1
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member) == ("labels.csv", "line 3")
    assert reason.startswith("outside the ingested folder")


def _wav(path: Path, seconds: float = 2.0, rate: int = 8000) -> Path:
    rng = np.random.default_rng(0)
    soundfile.write(path, rng.normal(0, 0.1, int(seconds * rate)), rate, subtype="PCM_16")
    return path


def test_bad_line_of_an_audacity_track_keeps_the_other_spans(
    engine, make_project, tmp_path
) -> None:
    pid = make_project("a", "audio", ["x", "y"])
    _wav(tmp_path / "rec.wav")
    (tmp_path / "rec.txt").write_text(
        "0.1\t0.4\tx\n0.5\tsoon\ty\n0.6\t0.9\ty\n\\\t100\t2000\n1.0\t1.2\tx\n"
    )
    report = ingest(engine, "a", [tmp_path], progress=False)
    [(name, member, reason)] = _errors(engine, pid)
    assert (name, member) == ("rec.txt", "line 2")
    assert reason == "end 'soon' is not a number"
    assert report.items_added == 3 and report.labels_imported == 3


def test_bad_row_of_a_raven_table_keeps_the_other_spans(engine, make_project, tmp_path) -> None:
    pid = make_project("a", "audio", ["x"])
    _wav(tmp_path / "rec.wav")
    (tmp_path / "rec.Table.1.selections.txt").write_text(
        "Selection\tBegin Time (s)\tEnd Time (s)\tAnnotation\n"
        "1\t0.1\t0.4\tx\n2\t0.9\t0.5\tx\n3\t1.0\t1.5\tx\n"
    )
    report = ingest(engine, "a", [tmp_path], progress=False)
    [(_, member, _)] = _errors(engine, pid)
    assert member == "line 3"
    assert report.items_added == 2


def test_label_track_linked_from_outside_is_not_read(engine, make_project, tmp_path) -> None:
    pid = make_project("a", "audio", ["x"])
    folder = tmp_path / "incoming"
    folder.mkdir()
    _wav(folder / "rec.wav")
    (tmp_path / "private.txt").write_text("0.1\t0.4\tx\n")
    (folder / "rec.txt").symlink_to(tmp_path / "private.txt")
    report = ingest(engine, "a", [folder], progress=False)
    assert report.items_added == 0
    reasons = [reason for *_, reason in _errors(engine, pid)]
    assert reasons and all(r.startswith("outside the ingested folder") for r in reasons)


def test_watched_folder_index_reaching_outside_registers_nothing(
    engine, make_project, tmp_path
) -> None:
    from prelabel.schedule import run_scheduled_pass
    from store.projects import get_project, set_watched_folders
    from store.settings import Settings

    pid = make_project("c", "crop", ["defect", "ok"])
    folder, outside = _index_naming_outside(tmp_path)
    with transaction(engine) as session:
        set_watched_folders(session, get_project(session, "c"), [str(folder)])
    refused = run_scheduled_pass(engine)["projects"]["c"]
    assert refused["ingested_items"] == 0 and refused["ingest_errors"] == 3
    assert _status(engine, pid)["items"] == 0
    allowed = run_scheduled_pass(engine, settings=Settings(media_roots=[outside]))
    assert allowed["projects"]["c"]["ingested_items"] == 3
