"""Exports read back by Loupe's own readers (and crowsetta) give the same labels and spans."""

from __future__ import annotations

import json
from pathlib import Path

import crowsetta
import pandas as pd
import pytest
from sqlalchemy import Engine

from learner.formats import audio, spectra
from prelabel.export import export_snapshot
from prelabel.ingest import ingest
from store.engine import transaction
from store.snapshots import create_snapshot, snapshot_entries


def _snapshot(engine: Engine, project_id: int) -> tuple[int, list]:
    with transaction(engine) as session:
        snap = create_snapshot(session, project_id)
        return snap.id, snapshot_entries(session, snap.id)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def spinetail(engine, make_project, shared_data) -> tuple[int, list]:
    project_id = make_project("spinetail", "audio", ["CRER", "SP"])
    ingest(engine, "spinetail", [shared_data / "audio/spinetail"], progress=False)
    return _snapshot(engine, project_id)


def _spans(entries) -> list[tuple]:
    return sorted(
        (round(e.start_s, 6), round(e.end_s, 6), e.label, e.f_low_hz and round(e.f_low_hz, 3))
        for e in entries
    )


def test_audacity_round_trip_and_crowsetta(engine, spinetail, tmp_path) -> None:
    snapshot_id, entries = spinetail
    manifest = export_snapshot(engine, str(snapshot_id), "audacity", tmp_path / "a")
    track = tmp_path / "a" / "spinetail.txt"
    back = audio.read_label_file(track)
    assert _spans(back) == _spans(entries) and len(back) == 18
    boxes = crowsetta.formats.by_name("aud-bbox").from_file(track).to_bbox()
    independent = sorted(
        (round(b.onset, 6), round(b.offset, 6), b.label, round(b.low_freq, 3)) for b in boxes
    )
    assert independent == _spans(entries)
    assert (
        manifest["by_label"] == {"CRER": 4, "SP": 14} and manifest["snapshot"]["id"] == snapshot_id
    )


def test_raven_round_trip_and_crowsetta(engine, spinetail, tmp_path) -> None:
    snapshot_id, entries = spinetail
    export_snapshot(engine, str(snapshot_id), "raven", tmp_path / "r")
    table = tmp_path / "r" / "spinetail.Table.1.selections.txt"
    assert _spans(audio.read_label_file(table)) == _spans(entries)
    raven = crowsetta.formats.by_name("raven").from_file(table, annot_col="Annotation")
    assert sorted(raven.df["annotation"]) == sorted(e.label for e in entries)
    assert raven.df["begin_time_s"].min() == pytest.approx(min(e.start_s for e in entries))


def test_table_formats_round_trip(engine, spinetail, tmp_path) -> None:
    snapshot_id, entries = spinetail
    frames = {}
    for fmt, read in (
        ("csv", pd.read_csv),
        ("parquet", pd.read_parquet),
        ("jsonl", lambda p: pd.read_json(p, lines=True)),
    ):
        export_snapshot(engine, str(snapshot_id), fmt, tmp_path / fmt)
        frames[fmt] = read(tmp_path / fmt / f"entries.{fmt}")
    for frame in frames.values():
        assert sorted(frame["label"]) == sorted(e.label for e in entries)
        assert set(frame["annotator"]) == {"import"} and set(frame["origin"]) == {"human"}
        assert sorted(frame["start_s"].round(6)) == sorted(round(e.start_s, 6) for e in entries)


def test_same_snapshot_exports_byte_identical(engine, make_project, shared_data, tmp_path) -> None:
    project_id = make_project("piped", "crop", ["defect", "no_defect"])
    ingest(engine, "piped", [shared_data / "crops/piped"], progress=False)
    snapshot_id, _ = _snapshot(engine, project_id)
    for fmt in ("hdf5", "parquet", "csv"):
        export_snapshot(engine, str(snapshot_id), fmt, tmp_path / f"{fmt}1")
        export_snapshot(engine, str(snapshot_id), fmt, tmp_path / f"{fmt}2")
        assert _files(tmp_path / f"{fmt}1") == _files(tmp_path / f"{fmt}2")


def test_crop_hdf5_round_trip_through_ingest(engine, make_project, shared_data, tmp_path) -> None:
    project_id = make_project("piped", "crop", ["defect", "no_defect"])
    ingest(engine, "piped", [shared_data / "crops/piped"], progress=False)
    snapshot_id, entries = _snapshot(engine, project_id)
    manifest = export_snapshot(engine, str(snapshot_id), "hdf5", tmp_path / "h")
    again = make_project("again", "crop", ["defect", "no_defect"])
    report = ingest(engine, "again", [tmp_path / "h"], progress=False)
    assert report.items_added == 384 and report.errors == []
    _, back = _snapshot(engine, again)
    key = lambda e: (e.member, e.label)  # noqa: E731
    assert sorted(map(key, back)) == sorted(map(key, entries))
    manifest_on_disk = json.loads((tmp_path / "h" / "manifest.json").read_text())
    assert manifest_on_disk == manifest and manifest["by_origin"] == {"human": 384}


def test_spectra_round_trip(engine, make_project, shared_data, tmp_path) -> None:
    project_id = make_project("rampp", "spectrum", ["stable", "weathered"])
    raw = shared_data / "spectra/rampp/raw"
    labels = tmp_path / "labels.csv"
    labels.write_text(f"file,label\n{raw / 'References.CSV'},stable\n")
    ingest(engine, "rampp", [raw / "References.CSV"], labels_csv=labels, progress=False)
    snapshot_id, entries = _snapshot(engine, project_id)
    export_snapshot(engine, str(snapshot_id), "spectra", tmp_path / "s")
    table = pd.read_csv(tmp_path / "s" / "labels.csv")
    assert len(table) == 11 and set(table["label"]) == {"stable"}
    original = spectra.read_spectrum_table(raw / "References.CSV").columns[0]
    exported = spectra.read_spectrum_table(tmp_path / "s" / "References-PS.txt").columns[0]
    assert (exported.axis == original.axis).all() and (
        exported.intensity == original.intensity
    ).all()


def test_format_of_another_modality_is_rejected(engine, spinetail, tmp_path) -> None:
    from store.errors import ValidationError

    with pytest.raises(ValidationError, match="does not fit a audio project"):
        export_snapshot(engine, str(spinetail[0]), "hdf5", tmp_path)
