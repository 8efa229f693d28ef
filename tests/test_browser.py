"""The annotator as a person uses it: the real Streamlit server, driven in headless Chromium.

Each test starts the app (``annotator.server.start``, the command ``loupe serve`` runs) on its
own copy of the demo database, signs in through the form and acts with the mouse and the keys;
then it reads the rows the actions wrote. The same flows run without a browser in
``test_annotator_app.py``; here the keyboard shortcuts, the plotly box selection and the page
navigation are the real ones.

A screenshot of every view is kept under ``tests/artifacts/`` for a look after the run.

Needs Debian's Chromium at ``/usr/bin/chromium`` (Playwright drives it; no browser is
downloaded).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from annotator import server
from store.engine import make_engine, transaction
from store.models import Annotation, Item, Lease, Project, Suggestion, User

pytestmark = pytest.mark.browser

CHROMIUM, CHROMIUM_ARGS = server.CHROMIUM, list(server.CHROMIUM_ARGS)
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VIEWPORT = {"width": 1400, "height": 1000}
TIMEOUT_MS = 30_000
USER, PASSWORD = "demo", "loupe-demo"
PAGES = ("Annotate", "Review grid", "Project overview", "Snapshots & models", "Sources & errors")

ITEM_HEADER = """[...document.querySelectorAll('strong')]
  .find(s => s.textContent.startsWith('Item '))"""
CURRENT_ITEM = f"""() => {{
  const strong = {ITEM_HEADER};
  return strong ? strong.textContent : null;
}}"""
NEW_ITEM = f"""old => {{
  const strong = {ITEM_HEADER};
  return !!strong && strong.textContent !== old;
}}"""
WAVE = '[class*="st-key-wave-"] .js-plotly-plot'
WAVE_DRAWN = f"""() => {{
  const chart = document.querySelector('{WAVE}');
  return !!(chart && chart._fullLayout && chart.querySelector('.main-svg'));
}}"""
UPPER_SUBPLOT = f"""() => {{
  const chart = document.querySelector('{WAVE}');
  const box = chart.getBoundingClientRect();
  const x = chart._fullLayout.xaxis, y = chart._fullLayout.yaxis;
  return {{left: box.left + x._offset, width: x._length, top: box.top + y._offset,
           height: y._length, range: x.range.map(Number)}};
}}"""
PAGE_KEYS = """() => [...document.querySelectorAll('[class*="st-key-flip-"]')]
  .map(b => [...b.classList].find(c => c.startsWith('st-key-flip-')))"""
PAGE_SHOWN = """want => {
  const keys = [...document.querySelectorAll('[class*="st-key-flip-"]')]
    .map(b => [...b.classList].find(c => c.startsWith('st-key-flip-')));
  if (keys.length !== want.length || keys.some(k => !want.includes(k))) return false;
  const images = [...document.querySelectorAll('img.loupe-crop')];
  return images.length === want.length && images.every(i => i.complete && i.naturalWidth > 0);
}"""
NEW_PAGE = """old => {
  const keys = [...document.querySelectorAll('[class*="st-key-flip-"]')]
    .map(b => [...b.classList].find(c => c.startsWith('st-key-flip-')));
  if (keys.length < 48 || keys.some(k => old.includes(k))) return false;
  const images = [...document.querySelectorAll('img.loupe-crop')];
  return images.length === keys.length && images.every(i => i.complete && i.naturalWidth > 0);
}"""


# --- the server and the browser ---------------------------------------------------------------


@dataclass
class App:
    url: str
    """Where the browser finds the app."""
    database_url: str
    """The database this server (and only this one) uses."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One headless Chromium for the module; each test opens its own context (session)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Debian's Chromium at {CHROMIUM} "
            "(`apt-get install chromium`, as scripts/setup does); no browser is downloaded"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def app(demo_url: str, tmp_path: Path) -> Iterator[App]:
    """The annotator served on a free port from this test's copy of the demo database."""
    port = free_port()
    process = server.start(port, demo_url, log=tmp_path / "server.log")
    try:
        yield App(f"http://localhost:{port}", demo_url)
    finally:
        server.stop(process)


@pytest.fixture
def page(chromium, app: App) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


# --- what a person does -----------------------------------------------------------------------


def sign_in(page, app: App, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    if not page.url.startswith(app.url):
        page.goto(app.url)
    page.get_by_label("User name").fill(USER)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page, app: App) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, app)
    page.get_by_role("heading", name=re.compile(r"^Annotate · ")).wait_for()
    page.get_by_role("button", name="Accept").first.wait_for()


def blur(page) -> None:  # type: ignore[no-untyped-def]
    """Take the focus out of any input, so that a key press is a shortcut."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")


def choose_project(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("stSidebar").get_by_role("combobox").first.click()
    page.get_by_role("option", name=f"{name} (").first.click()
    blur(page)


def go_to(page, link: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()


def heading(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("heading", name=text).wait_for()


def shown_item(page) -> int:  # type: ignore[no-untyped-def]
    page.wait_for_function(CURRENT_ITEM)
    return int(re.match(r"Item (\d+)", page.evaluate(CURRENT_ITEM)).group(1))


def press(page, key: str) -> None:  # type: ignore[no-untyped-def]
    """A shortcut key, then wait until the next item is on screen."""
    before = page.evaluate(CURRENT_ITEM)
    blur(page)
    page.keyboard.press(key)
    page.wait_for_function(NEW_ITEM, arg=before)
    saved(page)


def saved(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_text(re.compile(r"saved and next item ready in \d+ ms \(server\)")).wait_for()


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """Two animation frames: what changed has been painted."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def no_exception(page) -> None:  # type: ignore[no-untyped-def]
    shown = page.get_by_test_id("stException")
    assert shown.count() == 0, shown.first.inner_text()


MAIN_HEIGHT = """() => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  return main ? Math.ceil(main.scrollHeight) : 0;
}"""
IMAGES_DONE = """() => [...document.querySelectorAll('[data-testid="stMainBlockContainer"] img')]
  .every(i => i.complete)"""
BROKEN_IMAGES = """() => [...document.querySelectorAll('[data-testid="stMainBlockContainer"] img')]
  .filter(i => i.naturalWidth === 0).map(i => i.alt || i.src.slice(0, 80))"""


def images_loaded(page) -> None:  # type: ignore[no-untyped-def]
    """Every image in the main area has loaded, and none is broken."""
    page.wait_for_function(IMAGES_DONE)
    assert page.evaluate(BROKEN_IMAGES) == []


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """The whole page (the viewport grown to the main area's height) as tests/artifacts/NAME."""
    no_exception(page)
    images_loaded(page)
    ARTIFACTS.mkdir(exist_ok=True)
    height = VIEWPORT["height"]
    for _ in range(3):  # growing the window can lay the page out taller
        wanted = min(page.evaluate(MAIN_HEIGHT) + 120, 6000)
        if wanted <= height:
            break
        height = wanted
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        page.wait_for_timeout(300)  # plotly charts resize on a debounced window event
    settle(page)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)
    return path


# --- the rows ---------------------------------------------------------------------------------


def human_rows(url: str, project: str | None = None) -> list[Annotation]:
    """Every annotation but the imported labels, of one project or of all, in order."""
    query = (
        select(Annotation)
        .join(Item, Item.id == Annotation.item_id)
        .join(Project, Project.id == Item.project_id)
        .where(Annotation.action != "import")
        .order_by(Annotation.id)
    )
    if project is not None:
        query = query.where(Project.name == project)
    engine = make_engine(url)
    with transaction(engine) as session:
        found = list(session.scalars(query))
    engine.dispose()
    return found


def user_id(url: str, name: str = USER) -> int:
    engine = make_engine(url)
    with transaction(engine) as session:
        found = session.scalar(select(User.id).where(User.name == name))
    engine.dispose()
    return found


def fetch(url: str, model, key):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    with transaction(engine) as session:
        found = session.get(model, key)
    engine.dispose()
    return found


# --- the tests --------------------------------------------------------------------------------


def test_sign_in_through_the_form(page, app: App) -> None:  # type: ignore[no-untyped-def]
    page.goto(app.url)
    page.get_by_role("button", name="Sign in").wait_for()
    screenshot(page, "sign-in.png")

    sign_in(page, app, password="not the password")
    page.get_by_test_id("stAlertContentError").filter(has_text="wrong password").wait_for()
    assert page.get_by_role("heading", name=re.compile(r"^Annotate")).count() == 0

    signed_in(page, app)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Signed in as demo").wait_for()
    for link in PAGES:
        assert sidebar.get_by_role("link", name=link).is_visible()
    item = shown_item(page)
    no_exception(page)

    # signing in writes no annotation; the item on screen is leased to the person
    assert human_rows(app.database_url) == []
    demo = user_id(app.database_url)
    engine = make_engine(app.database_url)
    with transaction(engine) as session:
        lease = session.scalar(select(Lease).where(Lease.item_id == item))
        assert lease is not None and lease.user_id == demo
    engine.dispose()


def test_audio_span_dragged_on_the_waveform_then_a_class_key(page, app: App) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, app)
    choose_project(page, "demo-audio")
    heading(page, "Annotate · demo-audio")
    page.wait_for_function(WAVE_DRAWN)
    item_id = shown_item(page)
    slider = page.get_by_test_id("stSlider")
    before = slider.inner_text()
    screenshot(page, "audio-editor.png")

    plot = page.evaluate(UPPER_SUBPLOT)
    low, high = plot["range"]
    y = plot["top"] + plot["height"] / 2
    x0 = plot["left"] + 0.15 * plot["width"]
    x1 = plot["left"] + 0.40 * plot["width"]
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y, steps=5)
    page.mouse.move(x1, y, steps=5)
    page.mouse.up()
    # the selection reruns the fragment: the slider takes the dragged span
    page.wait_for_function(
        "old => document.querySelector('[data-testid=\"stSlider\"]').innerText !== old",
        arg=before,
    )
    settle(page)
    assert shown_item(page) == item_id
    screenshot(page, "audio-editor-dragged.png")

    press(page, "3")
    assert shown_item(page) != item_id

    (row,) = human_rows(app.database_url, "demo-audio")
    assert (row.item_id, row.action, row.label) == (item_id, "edit", "harmonic")
    assert row.user_id == user_id(app.database_url)
    assert row.suggestion_id is not None and row.model_version_id is not None
    item = fetch(app.database_url, Item, item_id)
    suggestion = fetch(app.database_url, Suggestion, row.suggestion_id)
    assert suggestion.item_id == item_id
    assert (row.start_s, row.end_s) != pytest.approx((item.start_s, item.end_s), abs=1e-3)
    if suggestion.start_s is not None:
        assert (row.start_s, row.end_s) != pytest.approx(
            (suggestion.start_s, suggestion.end_s), abs=1e-3
        )
    assert low <= row.start_s < row.end_s <= high
    # where the mouse went down and up, to a few pixels (the span snaps to 5 ms)
    per_pixel = (high - low) / plot["width"]
    assert row.start_s == pytest.approx(low + 0.15 * (high - low), abs=4 * per_pixel + 0.005)
    assert row.end_s == pytest.approx(low + 0.40 * (high - low), abs=4 * per_pixel + 0.005)


def test_spectrum_accept_key(page, app: App) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, app)
    choose_project(page, "demo-spectra")
    heading(page, "Annotate · demo-spectra")
    page.locator('[class*="st-key-spectrum-"] .js-plotly-plot .main-svg').first.wait_for()
    item_id = shown_item(page)
    header = page.evaluate(f"() => ({ITEM_HEADER}).parentElement.textContent")
    suggested = re.search(r"Suggested (\w+) \(", header)
    assert suggested, header
    screenshot(page, "spectrum-editor.png")

    press(page, "a")
    assert shown_item(page) != item_id

    (row,) = human_rows(app.database_url, "demo-spectra")
    assert (row.item_id, row.action, row.label) == (item_id, "accept", suggested.group(1))
    assert row.user_id == user_id(app.database_url)
    suggestion = fetch(app.database_url, Suggestion, row.suggestion_id)
    assert (suggestion.item_id, suggestion.label) == (item_id, row.label)
    assert row.model_version_id == suggestion.model_version_id


def open_crop_grid(page, app: App) -> list[str]:  # type: ignore[no-untyped-def]
    """Signed in, on the review grid of demo-crops: the flip buttons' keys, page order."""
    signed_in(page, app)
    choose_project(page, "demo-crops")
    heading(page, "Annotate · demo-crops")  # the choice has landed before the page changes
    go_to(page, "Review grid")
    heading(page, "Review grid · demo-crops")
    page.wait_for_function(NEW_PAGE, arg=[])
    return page.evaluate(PAGE_KEYS)


def flip_one_and_accept(page, keys: list[str]) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """Flip the sixth crop, check the grid shows it, accept the page; (item, before, after)."""
    button = page.locator(f".{keys[5]} button")
    before = button.inner_text()
    button.click()
    page.wait_for_function(
        "key => document.querySelector('.' + key + ' button').textContent.includes('⇄')",
        arg=keys[5],
    )
    after = button.inner_text()
    page.get_by_text("1 flipped").wait_for()
    blur(page)
    page.keyboard.press("a")
    page.wait_for_function(NEW_PAGE, arg=keys)
    saved(page)
    item_id = int(keys[5].removeprefix("st-key-flip-"))
    return item_id, shown_label(before), shown_label(after)


def shown_label(text: str) -> str:
    """The class on a crop's button ("large spatter 51%", "⇄ small spatter"), as a class name."""
    words = text.replace("⇄", " ").split()
    return "_".join(w for w in words if not w.endswith("%"))


def test_crop_grid_flip_one_then_accept_the_page(page, app: App) -> None:  # type: ignore[no-untyped-def]
    keys = open_crop_grid(page, app)
    assert len(keys) == 48
    screenshot(page, "crop-grid.png")

    flipped, was, now = flip_one_and_accept(page, keys)
    assert was != now and {was, now} == {"small_spatter", "large_spatter"}
    no_exception(page)

    written = human_rows(app.database_url, "demo-crops")
    page_items = {int(k.removeprefix("st-key-flip-")) for k in keys}
    assert len(written) == 48 and {r.item_id for r in written} == page_items
    assert {r.user_id for r in written} == {user_id(app.database_url)}
    by_item = {r.item_id: r for r in written}
    assert (by_item[flipped].action, by_item[flipped].label) == ("edit", now)
    assert sum(r.action == "accept" for r in written) == 47
    assert all(r.suggestion_id is not None for r in written)
    next_page = {int(k.removeprefix("st-key-flip-")) for k in page.evaluate(PAGE_KEYS)}
    assert not next_page & page_items


def test_undo_brings_the_crop_page_back(page, app: App) -> None:  # type: ignore[no-untyped-def]
    keys = open_crop_grid(page, app)
    flip_one_and_accept(page, keys)
    accepted = human_rows(app.database_url, "demo-crops")

    blur(page)
    page.keyboard.press("u")
    page.wait_for_function(PAGE_SHOWN, arg=keys)
    no_exception(page)

    written = human_rows(app.database_url, "demo-crops")
    undos = [r for r in written if r.action == "undo"]
    assert len(undos) == 48 and len(written) == 96
    assert sorted(r.undoes_id for r in undos) == sorted(r.id for r in accepted)
    assert all(u.item_id == by.item_id for u in undos for by in accepted if by.id == u.undoes_id)
    assert {r.user_id for r in undos} == {user_id(app.database_url)}
    assert sorted(page.evaluate(PAGE_KEYS)) == sorted(keys)


def test_overview_models_and_sources_pages(page, app: App) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, app)
    choose_project(page, "demo-spectra")
    heading(page, "Annotate · demo-spectra")
    press(page, "a")  # one annotation, so the overview has a person to show

    go_to(page, "Project overview")
    heading(page, "Project overview · demo-spectra")
    page.get_by_role("link", name="All sources and errors").wait_for()
    page.locator('[class*="st-key-overview-confusion"] .js-plotly-plot .main-svg').first.wait_for()
    page.get_by_test_id("stImage").get_by_role("img").wait_for()
    screenshot(page, "overview.png")

    go_to(page, "Snapshots & models")
    heading(page, "Snapshots & models · demo-spectra")
    page.get_by_role("heading", name="Commands").wait_for()
    page.get_by_role("heading", name="Model versions").wait_for()
    screenshot(page, "models.png")

    go_to(page, "Sources & errors")
    heading(page, "Sources & errors · demo-spectra")
    page.get_by_role("heading", name=re.compile(r"^Ingest errors \(\d+\)")).wait_for()
    screenshot(page, "sources.png")

    (row,) = human_rows(app.database_url, "demo-spectra")
    assert row.action == "accept" and row.user_id == user_id(app.database_url)
