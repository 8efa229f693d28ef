"""The overview, models and sources pages, run in the real app against a migrated SQLite file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from annotator import state
from prelabel.ingest import ingest
from store.accounts import add_user, authenticate
from store.annotations import Action, record
from store.catalog import record_ingest_error
from store.engine import make_engine, transaction
from store.errors import AuthenticationError
from store.models import Item, ModelVersion, Project
from store.projects import create_project
from store.snapshots import create_snapshot
from store.suggestions import SuggestionRow, insert_suggestions
from store.throttle import ThrottlePolicy

APP = Path(__file__).resolve().parents[1] / "annotator" / "app.py"
CLASSES = ["defect", "no_defect"]
REASON = "JPEG data ends early: truncated crop"


def _database(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "loupe.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _report_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "version-1"
    folder.mkdir(parents=True)
    for name in ("confusion_matrix.png", "reliability.png", "precision_recall.png"):
        Image.new("RGB", (40, 30), "white").save(folder / name)
    return folder


@pytest.fixture
def piped_app(sqlite_template: Path, tmp_path: Path, shared_data: Path, monkeypatch) -> dict:  # type: ignore[no-untyped-def]
    """The real crops, a person's actions, an ingest error, a snapshot and two model versions."""
    url = _database(sqlite_template, tmp_path)
    engine = make_engine(url)
    with transaction(engine) as session:
        create_project(session, "piped", "crop", CLASSES)
    ingest(engine, "piped", [shared_data / "crops/piped"], progress=False, derived_dir=tmp_path)
    with transaction(engine) as session:
        project = session.query(Project).filter_by(name="piped").one()
        user, _ = add_user(session, "ana", "admin", None)  # models and sources are admin pages
        items = session.query(Item.id).filter_by(project_id=project.id).order_by(Item.id).all()
        record(
            session,
            project,
            user,
            [Action(items[0].id, "accept", "defect", duration_s=30.0)]
            + [Action(items[1].id, "reject", duration_s=60.0)],
        )
        record_ingest_error(session, project.id, "/data/broken.h5", REASON, member="PA_X[3]")
        snapshot = create_snapshot(session, project.id)
        evaluation = {
            "macro_f1": 0.91,
            "accuracy": 0.92,
            "ece": 0.081,
            "ece_calibrated": 0.023,
            "temperature": 1.7,
            "test_items": 58,
            "confusion_matrix": [[27, 2], [3, 26]],
            "per_class": {
                "defect": {"precision": 0.9, "recall": 0.93, "f1": 0.915, "support": 29},
                "no_defect": {"precision": 0.93, "recall": 0.9, "f1": 0.905, "support": 29},
            },
            "average_precision": {"defect": 0.95, "no_defect": 0.94},
            "report_dir": str(_report_dir(tmp_path)),
        }
        for status, metrics in (("active", {"evaluation": evaluation}), ("candidate", {})):
            session.add(
                ModelVersion(
                    project_id=project.id,
                    arch="lenet5",
                    checkpoint_uri="/models/model.pt",
                    checkpoint_sha256="0" * 64,
                    classes=CLASSES,
                    snapshot_id=snapshot.id,
                    metrics=metrics,
                    temperature=1.7 if metrics else None,
                    status=status,
                )
            )
        session.flush()
        # both versions suggested for 100 items and disagree on 10 of them: kappa 0.8
        first, second = (v.id for v in session.query(ModelVersion).order_by(ModelVersion.id).all())
        for version_id, flipped in ((first, 0), (second, 10)):
            insert_suggestions(
                session,
                version_id,
                [
                    SuggestionRow(
                        row.id,
                        CLASSES[(n % 2) ^ (n < flipped)],
                        [0.5, 0.5],
                        0.5,
                        0.0,
                        0.69,
                    )
                    for n, row in enumerate(items[:100])
                ],
            )
        signed_in = {"id": user.id, "name": user.name, "role": user.role}
        sha256 = snapshot.manifest_sha256
    engine.dispose()
    monkeypatch.setenv("LOUPE_DATABASE_URL", url)
    return {"user": signed_in, "sha256": sha256, "url": url}


def _open(user: dict, page: str, project: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state[state.USER] = user
    if project is not None:
        at.session_state[state.PROJECT] = project
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _frame_with(at: AppTest, column: str):  # type: ignore[no-untyped-def]
    [frame] = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


def test_overview_shows_progress_people_model_and_errors(piped_app: dict) -> None:
    at = _open(piped_app["user"], "pages/overview.py")

    assert at.header[0].value == "Project overview · piped"
    metrics = _metrics(at)
    assert metrics["Items"] == "384" and metrics["Done"] == "384" and metrics["Left"] == "0"
    assert metrics["Model version (active)"] == "#1" and metrics["Macro-F1"] == "0.910"
    assert metrics["Ingest errors"] == "1"
    people = _frame_with(at, "time spent (min)")
    assert people.to_dict("records")[0] == {
        "user": "ana",
        "total": 2,
        "accept": 1,
        "edit": 0,
        "reject": 1,
        "skip": 0,
        "add": 0,
        "undo": 0,
        "time spent (min)": 1.5,
        "s per action": 45.0,
    }
    assert list(_frame_with(at, "reason")["reason"]) == [REASON]
    assert metrics["Query strategy"] == "entropy (default)" and metrics["Audit share"] == "10 %"
    assert metrics["Audit labels"] == "0" and metrics["Label issues to review"] == "0"
    # the confusion matrix, the learning curve and the agreement between the two versions
    assert len(at.get("plotly_chart")) == 3
    [stopping] = [c.value for c in at.caption if "Stopping signal" in c.value]
    assert "now 0.800 on 100 stop-set items" in stopping
    assert len(at.get("image")) == 1  # the reliability diagram from the report folder
    assert len(at.get("page_link")) == 1
    assert not at.info  # nothing is missing


def test_overview_shows_failed_sign_ins_to_admins(piped_app: dict) -> None:
    engine = make_engine(piped_app["url"])
    with transaction(engine) as session:
        add_user(session, "bo", "annotator", "right-password")
        rita, _ = add_user(session, "rita", "reviewer", None)
        reviewer = {"id": rita.id, "name": rita.name, "role": rita.role}
    with transaction(engine) as session, pytest.raises(AuthenticationError):
        authenticate(session, "bo", "wrong-password", policy=ThrottlePolicy(max_failures=1))
    engine.dispose()
    at = _open(piped_app["user"], "pages/overview.py")
    (row,) = _frame_with(at, "locked until").to_dict("records")
    assert (row["user"], row["failures"]) == ("bo", 1) and row["locked until"] is not None
    at = _open(reviewer, "pages/overview.py")  # a reviewer sees the overview, not sign-ins
    assert at.header[0].value == "Project overview · piped"
    assert not any("Failed sign-ins" in h.value for h in at.subheader)


def test_overview_shows_a_killed_job_as_interrupted(piped_app: dict) -> None:
    import datetime as dt
    import os

    from store.models import Job

    engine = make_engine(os.environ["LOUPE_DATABASE_URL"])
    killed = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with transaction(engine) as session:
        project = session.query(Project).filter_by(name="piped").one()
        session.add(
            Job(
                project_id=project.id,
                kind="prelabel",
                status="running",
                started_at=killed,
                heartbeat_at=killed,
            )
        )
    engine.dispose()

    at = _open(piped_app["user"], "pages/overview.py")

    jobs = _frame_with(at, "heartbeat (s ago)")
    assert list(jobs["kind"]) == ["prelabel", "ingest"]  # newest first
    assert list(jobs["status"]) == ["interrupted", "done"]
    assert jobs["error"][0].startswith("no heartbeat for 30")


def test_models_page_lists_snapshots_versions_and_commands(piped_app: dict) -> None:
    at = _open(piped_app["user"], "pages/models.py")

    snapshots = _frame_with(at, "manifest sha256")
    assert list(snapshots["entries"]) == [384]
    assert list(snapshots["manifest sha256"]) == [piped_app["sha256"]]
    versions = _frame_with(at, "macro-F1")
    assert list(versions["status"]) == ["candidate", "active"]  # newest first
    per_class = _frame_with(at, "support")
    assert list(per_class["class"]) == CLASSES and list(per_class["support"]) == [29, 29]
    assert len(at.get("image")) == 2  # reliability and precision-recall; the matrix is a chart
    assert len(at.get("plotly_chart")) == 1
    commands = at.code[0].value
    assert "loupe train piped --snapshot s1" in commands
    assert "loupe promote 2 --min-macro-f1 0.8" in commands

    at.selectbox(key="models-version").select(2).run()
    assert not at.exception
    assert any("not evaluated yet: `loupe evaluate 2`" in i.value for i in at.info)


def test_sources_page_filters_errors_and_offers_csv(piped_app: dict) -> None:
    at = _open(piped_app["user"], "pages/sources.py")

    sources = _frame_with(at, "uri")
    assert list(sources["items"]) == [384] and list(sources["complete"]) == [True]
    assert list(_frame_with(at, "reason")["reason"]) == [REASON]
    assert len(at.get("download_button")) == 1

    at.text_input(key="sources-error-filter").input("no such text").run()
    assert not at.exception
    assert not [d for d in at.dataframe if "reason" in d.value.columns]
    assert any("No ingest error matches" in i.value for i in at.info)
    at.text_input(key="sources-error-filter").input("TRUNCATED").run()
    assert list(_frame_with(at, "reason")["member"]) == ["PA_X[3]"]


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/models.py", "pages/sources.py"])
def test_pages_of_an_empty_project_say_what_is_missing(
    page: str, sqlite_template: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    url = _database(sqlite_template, tmp_path)
    engine = make_engine(url)
    with transaction(engine) as session:
        create_project(session, "empty", "audio", ["call"])
        user, _ = add_user(session, "ben", "admin", None)
        signed_in = {"id": user.id, "name": user.name, "role": user.role}
    engine.dispose()
    monkeypatch.setenv("LOUPE_DATABASE_URL", url)

    at = _open(signed_in, page, project="empty")

    assert at.info, "an empty project explains itself"
    assert not at.dataframe


def test_label_review_keeps_or_changes_a_disputed_label_with_provenance(
    piped_app: dict, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import os

    from store.models import Annotation, LabelIssue

    engine = make_engine(os.environ["LOUPE_DATABASE_URL"])
    with transaction(engine) as session:
        project = session.query(Project).filter_by(name="piped").one()
        version = session.query(ModelVersion).filter_by(status="active").one()
        first, second = (
            row.id
            for row in session.query(Item.id)
            .filter_by(project_id=project.id)
            .order_by(Item.id)
            .offset(10)
            .limit(2)
        )
        for item_id, confidence in ((first, 0.02), (second, 0.10)):
            session.add(
                LabelIssue(
                    project_id=project.id,
                    item_id=item_id,
                    model_version_id=version.id,
                    label="defect",
                    suggested="no_defect",
                    self_confidence=confidence,
                )
            )

    at = _open(piped_app["user"], "pages/labels.py", "piped")
    assert at.header[0].value == "Label review · piped"
    [issue] = [m.value for m in at.markdown if "label issue" in m.value]
    assert f"**Item {first}** is labelled **defect**" in issue  # the strongest dispute first
    assert "2 issue(s) waiting" in issue
    at.button(key="issue-change").click().run()
    [issue] = [m.value for m in at.markdown if "label issue" in m.value]
    assert f"**Item {second}**" in issue and "1 issue(s) waiting" in issue
    at.button(key="issue-keep").click().run()
    assert at.success and "No label issue waits" in at.success[0].value

    with transaction(engine) as session:
        statuses = dict(session.query(LabelIssue.item_id, LabelIssue.status).all())
        actions = {
            a.item_id: (a.action, a.label, a.user_id)
            for a in session.query(Annotation).filter(Annotation.item_id.in_([first, second]))
            if a.user_id == piped_app["user"]["id"]
        }
    assert statuses == {first: "relabelled", second: "kept"}
    assert actions == {
        first: ("edit", "no_defect", piped_app["user"]["id"]),
        second: ("accept", "defect", piped_app["user"]["id"]),
    }
    engine.dispose()


@pytest.mark.parametrize(
    "page",
    [
        "pages/annotate.py",
        "pages/grid.py",
        "pages/labels.py",
        "pages/overview.py",
        "pages/models.py",
        "pages/sources.py",
    ],
)
def test_every_page_of_an_empty_database_says_how_to_make_a_project(
    sqlite_template: Path, tmp_path: Path, monkeypatch, page: str
) -> None:  # type: ignore[no-untyped-def]
    url = _database(sqlite_template, tmp_path)
    engine = make_engine(url)
    with transaction(engine) as session:
        user, _ = add_user(session, "ana", "admin", None)
        signed_in = {"id": user.id, "name": user.name, "role": user.role}
    engine.dispose()
    monkeypatch.setenv("LOUPE_DATABASE_URL", url)
    at = _open(signed_in, page)
    assert any("ingest data into it" in info.value for info in at.info)  # the page, not the sidebar
    assert not at.header  # the page stopped before its own content


def test_sources_page_lets_an_admin_archive_a_source(piped_app: dict) -> None:
    engine = make_engine(piped_app["url"])
    with transaction(engine) as session:
        reviewer, _ = add_user(session, "rita", "reviewer", None)
        rita = {"id": reviewer.id, "name": "rita", "role": "reviewer"}
    engine.dispose()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        _open(rita, "pages/sources.py")  # a reviewer's navigation has no sources page
    admin = piped_app["user"]
    assert admin["role"] == "admin"
    at = _open(admin, "pages/sources.py")
    at.radio(key="admin-verb").set_value("delete").run()
    at.button(key="admin-apply").click().run()
    assert any("archive it instead" in e.value for e in at.error)  # annotated and in a snapshot
    at.radio(key="admin-verb").set_value("archive").run()
    at.button(key="admin-apply").click().run()
    assert not at.exception
    assert any("archived source" in s.value and "384 items" in s.value for s in at.success)
    at = _open(admin, "pages/sources.py")
    assert list(_frame_with(at, "uri")["archived"]) == [True]
