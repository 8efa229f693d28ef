"""Roles in the running app (AppTest): each role gets its pages and no other, and a callback
refuses, on the server, what the role may not do, writing nothing."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from annotator import access, state
from prelabel.ingest import ingest
from store.accounts import add_user
from store.engine import make_engine, transaction
from store.models import AccessRefusal, Annotation, Item, LabelIssue, ModelVersion, Project
from store.models.project import ROLES
from store.permissions import allowed
from store.projects import create_project

APP = Path(__file__).resolve().parents[1] / "annotator" / "app.py"
PAGES_DIR = APP.parent / "pages"
CLASSES = ["defect", "no_defect"]


def test_every_page_is_mapped_to_a_permission() -> None:
    on_disk = {f"pages/{p.name}" for p in PAGES_DIR.glob("*.py") if p.name != "__init__.py"}
    mapped = [page.path for page in access.PAGES]
    assert len(mapped) == len(set(mapped)), "a page is mapped twice"
    assert on_disk == set(mapped), "every page in annotator/pages/ needs a permission in PAGES"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_its_pages(role: str) -> None:
    expected = [p.title for p in access.PAGES if allowed(role, p.permission)]
    assert [p.title for p in access.pages_for(role)] == expected
    assert expected[0] == "Annotate"  # everyone lands on the editor


@pytest.fixture
def crops(sqlite_template: Path, tmp_path: Path, shared_data: Path, monkeypatch) -> dict:  # type: ignore[no-untyped-def]
    """The real crops, one account per role, and one open label issue."""
    path = tmp_path / "loupe.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    with transaction(engine) as session:
        create_project(session, "piped", "crop", CLASSES)
    ingest(engine, "piped", [shared_data / "crops/piped"], progress=False, derived_dir=tmp_path)
    with transaction(engine) as session:
        project = session.scalar(select(Project).where(Project.name == "piped"))
        users = {}
        for role in ROLES:
            user, _ = add_user(session, role[:3], role, None)
            users[role] = {"id": user.id, "name": user.name, "role": user.role}
        version = ModelVersion(
            project_id=project.id,
            arch="lenet5",
            checkpoint_uri="/models/model.pt",
            checkpoint_sha256="0" * 64,
            classes=CLASSES,
            status="active",
        )
        session.add(version)
        session.flush()
        item_id = session.scalar(select(Item.id).where(Item.project_id == project.id).limit(1))
        session.add(
            LabelIssue(
                project_id=project.id,
                item_id=item_id,
                model_version_id=version.id,
                label="defect",
                suggested="no_defect",
                self_confidence=0.02,
            )
        )
    monkeypatch.setenv("LOUPE_DATABASE_URL", url)
    yield {"engine": engine, "users": users, "item": item_id}
    engine.dispose()


def _open(user: dict, page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state[state.USER] = user
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _header(at: AppTest) -> str:
    return at.header[0].value if at.header else ""


@pytest.mark.parametrize("role", ROLES)
def test_the_navigation_holds_the_pages_of_the_role_and_no_other(crops: dict, role: str) -> None:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state[state.USER] = crops["users"][role]
    at.run()
    assert _header(at) == "Annotate · piped"
    mine = [page for page in access.PAGES if allowed(role, page.permission)]
    for page in access.PAGES:
        if page not in mine:  # not registered with the navigation: no link, no URL runs it
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(page.path)
    for page in mine:
        at.switch_page(page.path).run()
        assert not at.exception, [e.message for e in at.exception]
        assert _header(at).startswith(page.title), (role, page.path, _header(at))


@pytest.mark.parametrize("role", [r for r in ROLES if access.pages_for(r) != list(access.PAGES)])
def test_a_page_run_straight_from_its_url_is_rejected_for_other_roles(
    crops: dict, role: str, caplog
) -> None:  # type: ignore[no-untyped-def]
    """What a fresh server does with the first request for a page's URL: it runs the script of
    the ``pages`` folder alone, without the entry script and its navigation."""
    for page in access.PAGES:
        if allowed(role, page.permission):
            continue
        at = AppTest.from_file(str(APP.parent / page.path), default_timeout=30)
        at.session_state[state.USER] = crops["users"][role]
        with caplog.at_level(logging.WARNING, logger="annotator.access"):
            at.run()
        assert not at.exception and not at.header, (role, page.path)
        assert [e.value for e in at.error] == [f"This page is not open to your role ({role})."]
        assert f"may not {page.permission.value} ({page.path})" in caplog.text
    with transaction(crops["engine"]) as session:
        kept = session.execute(select(AccessRefusal.role, AccessRefusal.target)).all()
    assert kept == [(role, p.path) for p in access.PAGES if not allowed(role, p.permission)]


def test_a_page_run_straight_from_its_url_needs_a_sign_in(crops: dict) -> None:
    at = AppTest.from_file(str(APP.parent / "pages/labels.py"), default_timeout=30).run()
    assert not at.exception and not at.header
    assert "Sign in first" in at.warning[0].value


def _written(crops: dict) -> tuple[list, str]:
    with transaction(crops["engine"]) as session:
        rows = list(session.scalars(select(Annotation.action).where(Annotation.action != "import")))
        status = session.scalar(select(LabelIssue.status))
    return rows, status


def test_a_label_decision_by_an_annotator_is_rejected(crops: dict, caplog) -> None:  # type: ignore[no-untyped-def]
    reviewer = crops["users"]["reviewer"]
    at = _open(reviewer, "pages/labels.py")
    assert _header(at) == "Label review · piped"
    with transaction(crops["engine"]) as session:  # an admin makes the reviewer an annotator
        add_user(session, reviewer["name"], "annotator", None)

    with caplog.at_level(logging.WARNING, logger="annotator.access"):
        at.button(key="issue-change").click().run()  # the page was open: its button still is

    assert not at.exception
    assert _written(crops) == ([], "open")  # no edit, the issue not relabelled
    assert [e.value for e in at.error] == [
        "Not done: your role (annotator) may not review labels.",
        "This page is not open to your role (annotator).",  # and the page is gone
    ]
    assert not at.header
    [refusal] = [r for r in caplog.records if "(label issue 1)" in r.getMessage()]
    assert refusal.levelno == logging.WARNING and refusal.name == "annotator.access"
    assert "'rev'" in refusal.getMessage() and "'annotator'" in refusal.getMessage()
    with transaction(crops["engine"]) as session:
        kept = session.execute(
            select(AccessRefusal.user_id, AccessRefusal.permission, AccessRefusal.target)
        ).all()
    assert kept == [
        (reviewer["id"], "review labels", "label issue 1"),  # the button
        (reviewer["id"], "review labels", "pages/labels.py"),  # the page it reran
    ]


def test_a_reviewer_decides_a_label_issue(crops: dict) -> None:
    at = _open(crops["users"]["reviewer"], "pages/labels.py")
    at.button(key="issue-change").click().run()
    assert not at.exception and not at.error
    assert _written(crops) == (["edit"], "relabelled")
