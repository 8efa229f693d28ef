"""Archive hides a project, source or item everywhere items are read, and unarchive undoes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from loupe.cli import app
from store.engine import make_engine, transaction
from store.models import Item, Source
from store.projects import ensure_user, get_project
from store.queue import candidates
from store.suggestions import count_pending, unlabelled_items

runner = CliRunner()
REFERENCES = "spectra/rampp/raw/References.CSV"


def loupe(db_url: str, *args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--db", db_url, "--json"])
    [line] = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(line)


@pytest.fixture
def rampp(db_url: str, shared_data: Path, tmp_path: Path) -> Path:
    """Project ``rampp``: the eleven reference spectra, every one labelled 'stable' on import."""
    raw = shared_data / REFERENCES
    labels = tmp_path / "labels.csv"
    labels.write_text(f"file,label\n{raw},stable\n")
    loupe(db_url, "project", "create", "rampp", "--modality", "spectrum", "--classes", "stable,x")
    assert loupe(db_url, "ingest", "rampp", str(raw), "--labels", str(labels))[0] == 0
    return raw


def _items(db_url: str) -> list[int]:
    engine = make_engine(db_url)
    with transaction(engine) as session:
        ids = list(session.scalars(select(Item.id).order_by(Item.id)))
    engine.dispose()
    return ids


def test_archived_item_leaves_the_queue_and_comes_back(db_url, shared_data) -> None:
    loupe(db_url, "project", "create", "rampp", "--modality", "spectrum", "--classes", "stable,x")
    loupe(db_url, "ingest", "rampp", str(shared_data / REFERENCES))
    first = _items(db_url)[0]
    engine = make_engine(db_url)

    def queue() -> list[int]:
        with transaction(engine) as session:
            project = get_project(session, "rampp")
            user = ensure_user(session, "ann").id
            return candidates(session, project.id, user, limit=50, version_id=None)

    def pending() -> tuple[int, int]:
        with transaction(engine) as session:
            project_id = get_project(session, "rampp").id
            cold = len(unlabelled_items(session, project_id, limit=None))
            return count_pending(session, project_id, version_id=1), cold

    assert first in queue() and pending() == (11, 11)
    code, result = loupe(db_url, "archive", "item", "rampp", str(first))
    assert code == 0 and result["items"] == 1 and result["archived"] is True
    assert first not in queue() and len(queue()) == 10 and pending() == (10, 10)
    assert loupe(db_url, "archive", "item", "rampp", str(first))[1]["error"].endswith(
        "is archived already"
    )
    assert loupe(db_url, "unarchive", "item", "rampp", str(first))[0] == 0
    assert first in queue() and pending() == (11, 11)
    engine.dispose()


def test_archived_source_is_left_out_of_status_and_snapshots(db_url, rampp) -> None:
    code, result = loupe(db_url, "archive", "source", "rampp", str(rampp))
    assert code == 0 and result["items"] == 11
    status = loupe(db_url, "status", "rampp")[1]
    assert (status["sources"], status["items"], status["labelled_items"]) == (0, 0, 0)
    assert (status["archived_sources"], status["archived_items"], status["labels"]) == (1, 11, {})
    code, result = loupe(db_url, "snapshot", "rampp")
    assert code == 2 and result["error"].startswith("nothing to snapshot")
    assert loupe(db_url, "unarchive", "source", "rampp", str(rampp))[1]["items"] == 11
    assert loupe(db_url, "snapshot", "rampp")[1]["entries"] == 11


def test_export_leaves_out_items_archived_since_the_snapshot(db_url, rampp, tmp_path) -> None:
    assert loupe(db_url, "snapshot", "rampp")[1]["entries"] == 11
    loupe(db_url, "archive", "item", "rampp", str(_items(db_url)[0]))
    code, result = loupe(
        db_url, "export", "rampp:s1", "--format", "csv", "--out", str(tmp_path / "out")
    )
    assert code == 0 and result["entries"] == 10 and result["archived_left_out"] == 1
    assert loupe(db_url, "snapshot", "rampp")[1]["entries"] == 10


def test_unarchiving_a_source_keeps_items_archived_on_their_own(db_url, rampp) -> None:
    first = _items(db_url)[0]
    loupe(db_url, "archive", "item", "rampp", str(first))
    assert loupe(db_url, "archive", "source", "rampp", str(rampp))[1]["items"] == 10
    code, result = loupe(db_url, "unarchive", "item", "rampp", str(first))
    assert code == 2 and "archived with its source" in result["error"]
    assert loupe(db_url, "unarchive", "source", "rampp", "1")[1]["items"] == 10
    status = loupe(db_url, "status", "rampp")[1]
    assert (status["items"], status["archived_items"]) == (10, 1)


def test_archived_project_is_listed_as_such_and_hides_its_items(db_url, rampp) -> None:
    assert loupe(db_url, "archive", "project", "rampp")[1]["items"] == 11
    [listed] = loupe(db_url, "project", "list")[1]["projects"]
    assert listed["archived"] is True and listed["items"] == 0
    code, result = loupe(db_url, "unarchive", "source", "rampp", str(rampp))
    assert code == 2 and "is not archived" in result["error"]
    assert loupe(db_url, "unarchive", "project", "rampp")[1]["items"] == 11


def test_archive_of_an_unknown_source_is_rejected(db_url, rampp) -> None:
    code, result = loupe(db_url, "archive", "source", "rampp", "/no/such/file.csv")
    assert code == 2 and "has no source '/no/such/file.csv'" in result["error"]
    engine = make_engine(db_url)
    with transaction(engine) as session:
        assert session.scalar(select(Source.archived_at)) is None
    engine.dispose()
