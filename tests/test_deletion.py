"""Delete removes what nobody annotated; a forced delete keeps a copy of what people did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from loupe.cli import app
from store.engine import make_engine, transaction
from store.models import Annotation, AnnotationDeletePermit, Deletion, Item, Project, Source

runner = CliRunner()
REFERENCES = "spectra/rampp/raw/References.CSV"


def loupe(db_url: str, *args: str) -> tuple[int, dict]:
    result = runner.invoke(app, [*args, "--db", db_url, "--json"])
    [line] = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(line)


def _rampp(db_url: str, raw: Path, labels: Path | None = None) -> None:
    loupe(db_url, "project", "create", "rampp", "--modality", "spectrum", "--classes", "stable,x")
    extra = ("--labels", str(labels)) if labels else ()
    assert loupe(db_url, "ingest", "rampp", str(raw), *extra)[0] == 0


@pytest.fixture
def labelled(db_url: str, shared_data: Path, tmp_path: Path) -> Path:
    """Project ``rampp``: eleven reference spectra, each labelled 'stable' on import."""
    raw = (shared_data / REFERENCES).resolve()  # sources are registered by their real path
    labels = tmp_path / "labels.csv"
    labels.write_text(f"file,label\n{raw},stable\n")
    _rampp(db_url, raw, labels)
    return raw


def _count(db_url: str, model) -> int:  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    with transaction(engine) as session:
        n = session.scalar(select(func.count()).select_from(model)) or 0
    engine.dispose()
    return n


def test_item_nobody_annotated_is_deleted_with_a_record(db_url, shared_data) -> None:
    _rampp(db_url, shared_data / REFERENCES)
    code, result = loupe(db_url, "delete", "item", "rampp", "1", "--by", "root")
    assert code == 0 and (result["items"], result["annotations"], result["forced"]) == (1, 0, False)
    assert _count(db_url, Item) == 10
    engine = make_engine(db_url)
    with transaction(engine) as session:
        record = session.scalar(select(Deletion))
        assert (record.kind, record.target, record.actor, record.project) == (
            "item",
            "1",
            "root",
            "rampp",
        )
    engine.dispose()


def test_annotated_source_is_not_deleted_without_force(db_url, labelled) -> None:
    code, result = loupe(db_url, "delete", "source", "rampp", str(labelled))
    assert code == 2 and "11 of its items carry 11 annotations" in result["error"]
    assert "archive it instead" in result["error"]
    assert (_count(db_url, Item), _count(db_url, Annotation), _count(db_url, Deletion)) == (
        11,
        11,
        0,
    )


def test_forced_delete_without_a_reason_is_rejected(db_url, labelled) -> None:
    code, result = loupe(db_url, "delete", "source", "rampp", str(labelled), "--force")
    assert code == 2 and "needs a reason" in result["error"]
    assert _count(db_url, Item) == 11


def test_forced_delete_keeps_the_annotations_in_the_record(db_url, labelled) -> None:
    code, result = loupe(
        db_url, "delete", "source", "rampp", str(labelled), "--force",
        "--reason", "wrong folder", "--by", "ann",
    )  # fmt: skip
    assert code == 0 and (result["sources"], result["items"], result["annotations"]) == (1, 11, 11)
    assert (_count(db_url, Source), _count(db_url, Item), _count(db_url, Annotation)) == (0, 0, 0)
    assert _count(db_url, AnnotationDeletePermit) == 0
    engine = make_engine(db_url)
    with transaction(engine) as session:
        record = session.scalar(select(Deletion))
        assert (record.forced, record.reason, record.actor) == (True, "wrong folder", "ann")
        assert record.target == str(labelled) and record.record["sources"][0]["uri"] == str(
            labelled
        )
        copies = record.record["annotations"]
        assert len(copies) == 11 and {(a["action"], a["label"], a["user"]) for a in copies} == {
            ("import", "stable", "import")
        }
        assert len(record.record["annotated_items"]) == 11
    engine.dispose()


def test_annotations_stay_append_only_after_a_forced_delete(db_url, labelled, shared_data) -> None:
    loupe(db_url, "delete", "item", "rampp", "1", "--force", "--reason", "blank spectrum")
    assert _count(db_url, Annotation) == 10
    engine = make_engine(db_url)
    with pytest.raises(DatabaseError, match="append-only"), transaction(engine) as session:
        session.execute(text("DELETE FROM annotation"))
    engine.dispose()
    assert _count(db_url, Annotation) == 10


def test_item_in_a_snapshot_is_not_deleted_even_when_forced(db_url, labelled) -> None:
    loupe(db_url, "snapshot", "rampp")
    code, result = loupe(
        db_url, "delete", "project", "rampp", "--force", "--reason", "done with it"
    )
    assert code == 2 and "in snapshot(s) s1" in result["error"]
    assert (_count(db_url, Project), _count(db_url, Item)) == (1, 11)
    assert loupe(db_url, "archive", "project", "rampp")[0] == 0


def test_project_nobody_annotated_is_deleted(db_url, shared_data) -> None:
    _rampp(db_url, shared_data / REFERENCES)
    code, result = loupe(db_url, "delete", "project", "rampp")
    assert code == 0 and (result["sources"], result["items"]) == (1, 11)
    assert (_count(db_url, Project), _count(db_url, Source), _count(db_url, Item)) == (0, 0, 0)
