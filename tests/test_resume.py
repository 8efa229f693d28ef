"""A crash mid-ingest loses at most the open batch; a rerun completes without duplicates."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from prelabel.ingest import ingest
from store import catalog
from store.engine import transaction
from store.models import Annotation, Item, Job, Source


def test_rerun_after_crash_completes_without_duplicates(
    engine, make_project, shared_data, monkeypatch
) -> None:
    project_id = make_project("piped", "crop", ["defect", "no_defect"])
    real_insert = catalog.insert_items
    calls = {"n": 0}

    def crash_on_third_batch(session, source, rows):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real_insert(session, source, rows)

    monkeypatch.setattr(catalog, "insert_items", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        ingest(engine, "piped", [shared_data / "crops/piped"], batch_size=100, progress=False)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 200  # two batches kept
        assert session.scalar(select(Source.complete)) is False
        assert session.scalar(select(Job.status).order_by(Job.id.desc())) == "failed"

    monkeypatch.setattr(catalog, "insert_items", real_insert)
    report = ingest(engine, "piped", [shared_data / "crops/piped"], batch_size=100, progress=False)
    assert report.items_added == 184 and report.sources_added == 0
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 384
        assert session.scalar(select(func.count(func.distinct(Item.locator)))) == 384
        assert session.scalar(select(func.count()).select_from(Annotation)) == 384
        assert session.scalar(select(Source.complete)) is True
        assert catalog.project_status(session, project_id)["labelled_items"] == 384
