"""Roles in the real server, in headless Chromium: each role, signed in through the form, sees
the pages of its role in the navigation and no other, and a page's URL opens nothing it may not.

One server for the module, on a copy of the demo database with one account per role; each test
opens its own browser context (a new Streamlit session). Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotator import access, server
from store.accounts import add_user
from store.engine import make_engine, transaction
from store.models.project import ROLES
from store.permissions import allowed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VIEWPORT = {"width": 1400, "height": 900}
TIMEOUT_MS = 30_000
PASSWORD = "password-of-a-role"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(demo_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The annotator on a copy of the demo database that has an account ``<role>-1`` per role."""
    folder = tmp_path_factory.mktemp("roles")
    shutil.copy(demo_database, folder / "demo.db")
    url = f"sqlite:///{folder / 'demo.db'}"
    engine = make_engine(url)
    with transaction(engine) as session:
        for role in ROLES:
            add_user(session, f"{role}-1", role, PASSWORD)
    engine.dispose()
    port = _free_port()
    process = server.start(port, url, log=folder / "server.log")
    try:
        yield f"http://localhost:{port}"
    finally:
        server.stop(process)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not server.CHROMIUM.exists():
        pytest.fail(f"the browser tests need Debian's Chromium at {server.CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(server.CHROMIUM), headless=True, args=list(server.CHROMIUM_ARGS)
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def sign_in(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def dismiss_page_not_found(page) -> None:  # type: ignore[no-untyped-def]
    """Close Streamlit's "page not found" dialog, if it is up, so the page behind takes input."""
    dialog = page.get_by_role("dialog")
    if dialog.count():
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden")


def navigation(page) -> list[str]:  # type: ignore[no-untyped-def]
    links = page.get_by_test_id("stSidebarNav").get_by_role("link")
    # a link's text is its icon's name, then its title
    return [links.nth(i).inner_text().split("\n")[-1].strip() for i in range(links.count())]


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """Let the run that the last navigation started finish drawing."""
    page.wait_for_timeout(500)


def on_the_editor(page) -> None:  # type: ignore[no-untyped-def]
    """Signed in and on the landing page, drawn to the end (the sign-in form gone)."""
    page.get_by_role("heading", name=re.compile(r"^Annotate · ")).wait_for()
    page.get_by_role("button", name="Sign in").wait_for(state="detached")
    page.get_by_role("button", name="Accept").first.wait_for()
    settle(page)


def no_exception(page) -> None:  # type: ignore[no-untyped-def]
    shown = page.get_by_test_id("stException")
    assert shown.count() == 0, shown.first.inner_text()


def test_a_page_url_opens_nothing_before_sign_in(page, served: str) -> None:  # type: ignore[no-untyped-def]
    """Run first on the module's fresh server, when Streamlit would run a script of the ``pages``
    folder straight from its URL."""
    page.goto(f"{served}/models")
    sign_in_first = page.get_by_text(re.compile("Sign in first|Sign in to review suggestions"))
    models = page.get_by_role("heading", name=re.compile("^Snapshots & models"))
    sign_in_first.or_(models).first.wait_for()
    settle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "roles-models-url-before-sign-in.png"))
    assert models.count() == 0
    assert sign_in_first.first.is_visible()
    no_exception(page)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_its_pages_and_no_other(page, served: str, role: str) -> None:  # type: ignore[no-untyped-def]
    expected = [p.title for p in access.PAGES if allowed(role, p.permission)]
    page.goto(served)
    sign_in(page, f"{role}-1")
    on_the_editor(page)
    page.get_by_test_id("stSidebar").get_by_text(f"Signed in as {role}-1 ({role})").wait_for()
    assert navigation(page) == expected
    no_exception(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"roles-{role}.png"))

    # a page's URL, typed after sign-in: what the role may not use is not rendered
    for other in access.PAGES:
        if other.title in expected:
            continue
        slug = Path(other.path).stem
        page.goto(f"{served}/{slug}")
        page.get_by_role("button", name="Sign in").wait_for()
        settle(page)
        dismiss_page_not_found(page)
        sign_in(page, f"{role}-1")
        on_the_editor(page)
        if role == "annotator" and slug == "labels":
            page.screenshot(path=str(ARTIFACTS / "roles-annotator-labels-url.png"))
        dismiss_page_not_found(page)
        assert page.get_by_role("heading", name=re.compile(f"^{other.title}")).count() == 0
        assert navigation(page) == expected
        no_exception(page)
