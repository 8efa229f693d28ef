"""The command line as a user and a scheduled job meet it: messages, exit codes, one JSON object."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from loupe.cli import app
from store import schema

runner = CliRunner()


def loupe(db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--db", db_url])
    return result.exit_code, result.stdout, result.stderr


def loupe_json(db_url: str, *args: str) -> tuple[int, dict]:
    code, out, _ = loupe(db_url, *args, "--json")
    [line] = out.strip().splitlines()  # exactly one JSON object
    return code, json.loads(line)


def test_status_json_after_ingest(db_url: str, shared_data) -> None:
    assert (
        loupe_json(
            db_url,
            "project",
            "create",
            "piped",
            "--modality",
            "crop",
            "--classes",
            "defect,no_defect",
        )[0]
        == 0
    )
    code, result = loupe_json(
        db_url, "ingest", "piped", str(shared_data / "crops/piped"), "--quiet"
    )
    assert code == 0 and result["items_added"] == 384 and result["labels_imported"] == 384
    code, status = loupe_json(db_url, "status", "piped")
    assert code == 0
    for key in (
        "sources",
        "items",
        "ingest_errors",
        "annotations",
        "suggestions",
        "snapshots",
        "model_versions",
    ):
        assert key in status
    assert (status["sources"], status["items"], status["annotations"]) == (1, 384, 384)
    assert status["labels"] == {"defect": 192, "no_defect": 192}


def test_init_is_idempotent(db_url: str) -> None:
    code, result = loupe_json(db_url, "init")
    assert code == 0 and result["revision"] == schema.head_revision()
    assert loupe_json(db_url, "init")[0] == 0


def test_unknown_project_is_rejected(db_url: str, tmp_path) -> None:
    code, out, err = loupe(db_url, "ingest", "ghost", str(tmp_path))
    assert code == 2 and "no project named 'ghost'" in err


def test_wrong_modality_is_rejected(db_url: str) -> None:
    code, result = loupe_json(
        db_url, "project", "create", "x", "--modality", "video", "--classes", "a"
    )
    assert code == 2 and result == {
        "error": "unknown modality 'video': choose one of audio, spectrum, crop"
    }


def test_duplicate_project_is_rejected(db_url: str) -> None:
    loupe(db_url, "project", "create", "x", "--modality", "crop", "--classes", "a")
    code, _, err = loupe(db_url, "project", "create", "x", "--modality", "crop", "--classes", "a")
    assert code == 2 and "already exists" in err


def test_unknown_class_in_labels_csv_is_recorded(db_url: str, tmp_path) -> None:
    loupe(
        db_url, "project", "create", "s", "--modality", "spectrum", "--classes", "stable,weathered"
    )
    lines = "\n".join(f"{100 + 10 * i} {i % 7}" for i in range(40))
    (tmp_path / "a.txt").write_text(lines)
    (tmp_path / "labels.csv").write_text("file,label\na.txt,rusty\n")
    code, result = loupe_json(
        db_url, "ingest", "s", str(tmp_path), "--labels", str(tmp_path / "labels.csv"), "--quiet"
    )
    assert code == 0 and result["items_added"] == 1 and result["labels_imported"] == 0
    [error] = result["errors"]
    assert error["reason"] == "unknown class 'rusty' (project classes: stable, weathered)"


def test_nothing_ingested_exits_non_zero(db_url: str, tmp_path) -> None:
    loupe(db_url, "project", "create", "c", "--modality", "crop", "--classes", "a")
    (tmp_path / "junk.h5").write_bytes(b"junk")
    code, result = loupe_json(db_url, "ingest", "c", str(tmp_path), "--quiet")
    assert code == 1 and result["ingest_errors"] == 1 and result["items_added"] == 0


def test_uninitialised_database_is_rejected(tmp_path) -> None:
    code, _, err = loupe(f"sqlite:///{tmp_path / 'new.db'}", "project", "list")
    assert code == 2 and "run `loupe init`" in err


@pytest.mark.postgres
def test_unreachable_database_is_rejected() -> None:
    code, result = loupe_json("postgresql://loupe@127.0.0.1:9/none", "status", "x")
    assert code == 2 and result["error"].startswith("cannot reach the database")


def test_snapshot_train_evaluate_promote_json(
    db_url: str, shared_data, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("LOUPE_MODELS_DIR", str(tmp_path / "models"))
    loupe(
        db_url, "project", "create", "piped", "--modality", "crop", "--classes", "defect,no_defect"
    )
    loupe(db_url, "ingest", "piped", str(shared_data / "crops/piped"), "--quiet")
    code, snap = loupe_json(db_url, "snapshot", "piped")
    assert code == 0 and len(snap["sha256"]) == 64 and snap["entries"] == 384
    code, trained = loupe_json(
        db_url,
        "train",
        "piped",
        "--snapshot",
        str(snap["id"]),
        "--epochs",
        "2",
        "--min-epochs",
        "1",
        "--device",
        "cpu",
        "--quiet",
    )
    assert code == 0 and trained["arch"] == "lenet5"
    version = str(trained["model_version"])
    code, report = loupe_json(db_url, "evaluate", version)
    assert code == 0 and {"macro_f1", "accuracy", "ece", "ece_calibrated"} <= set(report)
    code, gate = loupe_json(db_url, "promote", version, "--min-macro-f1", "1.01")
    assert code == 3 and gate["decision"] == "below_threshold"
    code, gate = loupe_json(db_url, "promote", version)
    assert code == 0 and gate["decision"] == "promoted"
    code, status = loupe_json(db_url, "status", "piped")
    assert (status["snapshots"], status["model_versions"]) == (1, 1)
    # every item is labelled: the pseudo-label snapshot is made, and says why it holds none
    code, pseudo = loupe_json(db_url, "snapshot", "piped", "--pseudo-labels")
    assert code == 0 and pseudo["sha256"] == snap["sha256"]
    assert pseudo["pseudo_model_version_id"] == trained["model_version"]
    assert pseudo["by_origin"] == {"human": 384} and pseudo["pseudo_threshold"] is None
    assert "every item with a suggestion" in pseudo["pseudo"]["note"]


def test_mlflow_without_mlflow_is_rejected_before_training(
    db_url: str, shared_data, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    loupe(
        db_url, "project", "create", "piped", "--modality", "crop", "--classes", "defect,no_defect"
    )
    loupe(db_url, "ingest", "piped", str(shared_data / "crops/piped"), "--quiet")
    loupe(db_url, "snapshot", "piped")
    code, result = loupe_json(db_url, "train", "piped", "--snapshot", "s1", "--mlflow", "--quiet")
    assert code == 2 and "mlflow is not installed" in result["error"]
    assert loupe_json(db_url, "status", "piped")[1]["model_versions"] == 0


def test_user_add_reads_the_password_from_stdin(db_url: str) -> None:
    result = runner.invoke(
        app,
        ["user", "add", "alice", "--role", "reviewer", "--db", db_url, "--json"],
        input="a long password\n",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) | {"id": 0} == {
        "id": 0,
        "name": "alice",
        "role": "reviewer",
        "created": True,
        "password": True,
    }
    from store.accounts import authenticate
    from store.engine import make_engine, transaction

    engine = make_engine(db_url)
    with transaction(engine) as session:
        assert authenticate(session, "alice", "a long password").role == "reviewer"
    engine.dispose()


def test_user_add_without_a_password_fails(db_url: str) -> None:
    result = runner.invoke(app, ["user", "add", "alice", "--db", db_url], input="")
    assert result.exit_code == 2
    assert "no password on standard input" in result.stderr


def test_serve_refuses_a_database_that_is_not_migrated(tmp_path) -> None:
    result = runner.invoke(app, ["serve", "--db", f"sqlite:///{tmp_path / 'empty.db'}"])
    assert result.exit_code == 2
    assert "loupe init" in result.stderr


def test_pseudo_labels_without_a_model_version_are_rejected(db_url: str, shared_data) -> None:
    loupe(
        db_url, "project", "create", "piped", "--modality", "crop", "--classes", "defect,no_defect"
    )
    loupe(db_url, "ingest", "piped", str(shared_data / "crops/piped"), "--quiet")
    code, result = loupe_json(db_url, "snapshot", "piped", "--pseudo-labels")
    assert code == 2 and "no active model version" in result["error"]
    code, _, err = loupe(db_url, "snapshot", "piped", "--pseudo-labels", "--target-error", "0")
    assert code == 2 and "target error must lie between 0 and 1" in err
    code, out, _ = loupe(db_url, "snapshot", "piped")
    assert code == 0 and "human 384" in out


def test_project_strategy_is_stored_and_an_unknown_one_is_rejected(db_url: str) -> None:
    from store.engine import make_engine, transaction
    from store.projects import get_project

    loupe(db_url, "project", "create", "x", "--modality", "crop", "--classes", "a,b")
    code, result = loupe_json(db_url, "project", "strategy", "x", "margin", "--audit-share", "0.2")
    assert code == 0 and result["strategy"] == "margin" and result["audit_share"] == 0.2
    assert result["model_version"] is None  # nothing to re-rank without a model
    engine = make_engine(db_url)
    with transaction(engine) as session:
        settings = get_project(session, "x").settings
    engine.dispose()
    assert settings["strategy"] == "margin" and settings["audit_share"] == 0.2

    code, _, err = loupe(db_url, "project", "strategy", "x", "most-fun")
    assert code == 2 and "most-fun" in err and "entropy" in err


def _references(db_url: str, tmp_path, shared_data, *extra: str) -> tuple[int, str, str]:
    """Project ``rampp``: eleven labelled reference spectra, ingested with ``extra`` options."""
    raw = shared_data / "spectra/rampp/raw/References.CSV"
    labels = tmp_path / "labels.csv"
    labels.write_text(f"file,label\n{raw},stable\n")
    loupe(db_url, "project", "create", "rampp", "--modality", "spectrum", "--classes", "stable,x")
    return loupe(db_url, "ingest", "rampp", str(raw), "--labels", str(labels), *extra)


def test_training_a_snapshot_too_small_to_split_fails(db_url: str, tmp_path, shared_data) -> None:
    from sqlalchemy import insert, select

    from store.engine import make_engine, transaction
    from store.models import Annotation, Item, Source
    from store.projects import ensure_user
    from store.snapshots import split_of

    raw = shared_data / "spectra/rampp/raw/References.CSV"
    loupe(db_url, "project", "create", "rampp", "--modality", "spectrum", "--classes", "stable,x")
    loupe(db_url, "ingest", "rampp", str(raw), "--quiet")
    engine = make_engine(db_url)
    with transaction(engine) as session:  # one labelled item, one the split puts in train
        rows = session.execute(
            select(Item.id, Source.sha256, Item.locator).join(Source, Source.id == Item.source_id)
        ).all()
        item = next(i for i, sha, loc in rows if split_of(f"{sha}:{loc}") == "train")
        user = ensure_user(session, "ann").id
        session.execute(
            insert(Annotation).values(item_id=item, user_id=user, action="accept", label="x")
        )
    engine.dispose()
    assert loupe_json(db_url, "snapshot", "rampp")[1]["entries"] == 1
    code, result = loupe_json(db_url, "train", "rampp", "--snapshot", "s1", "--device", "cpu")
    assert code == 2 and "too small to train on: 1 readable train and 0 val" in result["error"]
    assert "at least 3 labelled items" in result["error"]
    assert loupe_json(db_url, "status", "rampp")[1]["model_versions"] == 0


def test_json_runs_draw_no_progress_bars(db_url: str, tmp_path, shared_data, monkeypatch) -> None:
    monkeypatch.setenv("LOUPE_MODELS_DIR", str(tmp_path / "models"))
    code, out, err = _references(db_url, tmp_path, shared_data, "--json")
    assert code == 0 and json.loads(out)["items_added"] == 11 and "%|" not in err
    loupe(db_url, "snapshot", "rampp")
    code, out, err = loupe(
        db_url, "train", "rampp", "--snapshot", "s1", "--epochs", "1", "--min-epochs", "1",
        "--device", "cpu", "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["snapshot_ref"] == "rampp:s1"
    assert "%|" not in err


def test_promote_help_says_evaluation_comes_first() -> None:
    result = runner.invoke(app, ["promote", "--help"], terminal_width=200)
    text = " ".join(result.stdout.split())
    assert "Run `loupe evaluate VERSION` first" in text
    assert "--min-macro-f1" in text and "same test items" in text


def test_status_shows_a_killed_job_as_interrupted(db_url: str, monkeypatch) -> None:
    import datetime as dt

    from store.engine import make_engine, transaction
    from store.models import Job
    from store.projects import create_project

    engine = make_engine(db_url)
    killed = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with transaction(engine) as session:
        project = create_project(session, "spatter", "crop", ["a", "b"])
        session.add(
            Job(
                project_id=project.id,
                kind="prelabel",
                status="running",
                done=250,
                total=1000,
                started_at=killed,
                heartbeat_at=killed,
            )
        )
    engine.dispose()

    code, status = loupe_json(db_url, "status", "spatter")
    assert code == 0
    [job] = status["jobs"]
    assert (job["kind"], job["status"], job["done"], job["total"]) == (
        "prelabel",
        "interrupted",
        250,
        1000,
    )
    assert job["error"].startswith("no heartbeat for 30")
    code, text, _ = loupe(db_url, "status", "spatter")
    assert code == 0 and "prelabel: interrupted, 250/1000 done (no heartbeat for 30" in text

    monkeypatch.setenv("LOUPE_JOB_STALE_AFTER_S", "600")  # a slower heartbeat is still alive
    assert loupe_json(db_url, "status", "spatter")[1]["jobs"][0]["status"] == "running"
