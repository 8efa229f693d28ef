"""Ingest of the real sample data: every labelled unit arrives with its label, once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select

from prelabel.ingest import ingest
from store.catalog import project_status
from store.engine import transaction
from store.models import Annotation, Item, Source

FINCH_CLASSES = [str(i) for i in range(9)]


def _labels(engine: Engine, project_id: int) -> Counter:
    with transaction(engine) as session:
        rows = session.scalars(
            select(Annotation.label).join(Item).where(Item.project_id == project_id)
        )
        return Counter(rows)


def _ingest_twice(engine: Engine, project: str, paths: list[Path], **kwargs) -> tuple:
    first = ingest(engine, project, paths, progress=False, **kwargs)
    second = ingest(engine, project, paths, progress=False, **kwargs)
    return first, second


def test_rampp_matrices_give_129_labelled_spectra(
    engine, make_project, shared_data, tmp_path
) -> None:
    raw = shared_data / "spectra/rampp/raw"
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "file,label\n"
        f"{raw / 'References.CSV'},stable\n"
        f"{raw / 'Microplasbial MP variants FW.CSV'},weathered\n"
        f"{raw / 'Microplasbial MP variants SW.CSV'},weathered\n"
    )
    project_id = make_project("rampp", "spectrum", ["stable", "weathered"])
    first, second = _ingest_twice(engine, "rampp", [raw], labels_csv=labels)
    assert first.items_added == 129 and first.errors == []
    assert _labels(engine, project_id) == {"stable": 11, "weathered": 118}
    assert (second.items_added, second.labels_imported, second.sources_added) == (0, 0, 0)
    with transaction(engine) as session:
        members = set(session.scalars(select(Item.member).where(Item.project_id == project_id)))
        sw = session.scalar(select(Source).where(Source.uri.like("%SW.CSV")))
        assert sw.meta["skipped_empty_columns"] == 1
    # stray spaces in the SW headers are gone; the empty trailing column made no item
    assert "PA V5" in members and "SAN V3" in members and "" not in members
    assert project_status_counts(engine, project_id)["items"] == 129


def project_status_counts(engine: Engine, project_id: int) -> dict:
    with transaction(engine) as session:
        return project_status(session, project_id)


def test_rampp_text_files_labelled_by_prefix(engine, make_project, shared_data) -> None:
    project_id = make_project("rampp-txt", "spectrum", ["stable", "weathered"])
    first, second = _ingest_twice(engine, "rampp-txt", [shared_data / "spectra/rampp/spectra_txt"])
    # two pairs of files in the set hold identical bytes: one source each, reported as such
    assert first.items_added == 127 and len(first.duplicates) == 2
    assert _labels(engine, project_id) == {"stable": 11, "weathered": 116}
    assert second.items_added == 0


def test_spinetail_segments_keep_frequency_bounds(engine, make_project, shared_data) -> None:
    project_id = make_project("spinetail", "audio", ["CRER", "SP"])
    first, second = _ingest_twice(engine, "spinetail", [shared_data / "audio/spinetail"])
    assert first.items_added == 18 and first.labels_imported == 18 and first.errors == []
    assert _labels(engine, project_id) == {"SP": 14, "CRER": 4}
    with transaction(engine) as session:
        items = session.scalars(
            select(Item).where(Item.project_id == project_id).order_by(Item.start_s)
        ).all()
    assert all(i.f_low_hz is not None and i.f_high_hz > i.f_low_hz for i in items)
    assert items[0].start_s == 0.101385 and round(items[0].f_low_hz, 3) == 6441.064
    assert second.items_added == 0 and second.labels_imported == 0


def test_every_finch_syllable_is_an_item(engine, make_project, shared_data) -> None:
    folder = shared_data / "audio/finch"
    expected = sum(
        1 for f in folder.glob("*.txt") for line in f.read_text().splitlines() if line.strip()
    )
    project_id = make_project("finch", "audio", FINCH_CLASSES)
    first, second = _ingest_twice(engine, "finch", [folder])
    assert first.sources_added == 12 and first.items_added == expected == 466
    assert sum(_labels(engine, project_id).values()) == 466
    assert second.items_added == 0 and second.sources_already_ingested == 12


def test_piped_crops_with_index_labels(engine, make_project, shared_data) -> None:
    project_id = make_project("piped", "crop", ["defect", "no_defect"])
    first, second = _ingest_twice(engine, "piped", [shared_data / "crops/piped"])
    assert first.items_added == 384 and first.errors == []
    assert _labels(engine, project_id) == {"defect": 192, "no_defect": 192}
    assert second.items_added == 0
