"""Benchmark: how long a person waits in the annotator, on projects of a million items.

Builds (once, cached under ``--workdir``) a crop project of ``--crops`` generated JPEG crops in
one HDF5 store and an audio project of ``--segments`` segments over generated recordings, both
with a suggestion per item from an active model version, on SQLite and on PostgreSQL. The crops
are registered by the real ``loupe ingest`` path; the audio segments are registered as a regular
grid of 0.25 s spans (their content does not matter for latency). The suggestions are drawn from
a Dirichlet distribution and written with ``store.suggestions.insert_suggestions`` (the
prelabeller's own writer) — no model is run, which is what this benchmark needs: the queue walks
a million real rows ordered by confidence.

Then, per database, it starts the real app (``annotator.server.start``: ``streamlit run``),
signs in through the form in headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright) and, per view, presses the accept key ``--actions`` times (after three warm-up
presses), timing in the browser from the key press to the next item visible:

- audio editor: the new item's waveform + spectrogram chart drawn (its SVG present);
- crop editor (one crop at a time): the new item's image loaded;
- crop grid: a new page of 48 crops, every image loaded.

The server-side time of each of those reruns — from the action's callback to the end of the
rerun that shows the next item — is what the app appends to ``LOUPE_TIMING_LOG``. As the floor
of the same machine in the same run, it also times a rerun that changes nothing in the database
(toggling "Add segment" in the audio view; flipping one crop on the grid) and reports the ratio.

It prints the machine, build times, and per database and view the median and p95 of both times.
It never asserts timings. Run from the repository root::

    .venv/bin/python benchmarks/annotator_latency.py                       # 1,000,000 + 100,000
    .venv/bin/python benchmarks/annotator_latency.py --crops 20000 --segments 5000 --actions 10
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from annotator import server  # noqa: E402
from learner.synthetic.audio import AUDIO_CLASSES, write_recordings  # noqa: E402
from learner.synthetic.crops import CROP_CLASSES, write_crop_store  # noqa: E402
from prelabel.ingest import ingest  # noqa: E402
from store import schema  # noqa: E402
from store.accounts import add_user  # noqa: E402
from store.catalog import ItemRow, insert_items  # noqa: E402
from store.engine import make_engine, transaction  # noqa: E402
from store.models import Item, ModelVersion, Source, Suggestion  # noqa: E402
from store.projects import create_project, get_project  # noqa: E402
from store.suggestions import SuggestionRow, insert_suggestions  # noqa: E402

USER, PASSWORD = "bench", "bench-password"
SEGMENT_S, STRIDE_S = 0.25, 0.3
RECORDING_S = 300.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> str:
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}"


# --- data ----------------------------------------------------------------------------------


def generate_media(workdir: Path, crops: int, segments: int) -> tuple[Path, Path]:
    crop_dir = workdir / f"crops-{crops}"
    if not (crop_dir / "spatter.h5").exists():
        log(f"writing {crops:,} crops to {crop_dir}")
        write_crop_store(crop_dir, crops, seed=1, labelled_fraction=0.0, progress=True)
    recordings = int(np.ceil(segments / int(RECORDING_S / STRIDE_S)))
    audio_dir = workdir / f"audio-{recordings}"
    if not any(audio_dir.glob("*.wav")):
        log(f"writing {recordings} recordings of {RECORDING_S:.0f} s to {audio_dir}")
        write_recordings(audio_dir, recordings, seed=1, duration_s=RECORDING_S)
        for labels in audio_dir.glob("*.txt"):  # the segments come from the grid below
            labels.unlink()
    return crop_dir, audio_dir


def build_database(url: str, crop_dir: Path, audio_dir: Path, segments: int) -> None:
    """Migrate, create both projects, register items, write one suggestion per item."""
    schema.upgrade(url)
    engine = make_engine(url)
    with transaction(engine) as session:
        add_user(session, USER, "annotator", PASSWORD)
        for name, modality, classes in (
            ("bench-crops", "crop", CROP_CLASSES),
            ("bench-audio", "audio", AUDIO_CLASSES),
        ):
            try:
                get_project(session, name)
            except Exception:  # noqa: BLE001 - NotFoundError: create it
                create_project(session, name, modality, list(classes))
    started = time.perf_counter()
    ingest(engine, "bench-crops", [crop_dir], progress=True)
    log(f"crops registered in {time.perf_counter() - started:.1f} s")
    ingest(engine, "bench-audio", [audio_dir], progress=False)
    register_segments(engine, segments)
    for name, classes in (("bench-crops", CROP_CLASSES), ("bench-audio", AUDIO_CLASSES)):
        started = time.perf_counter()
        written = suggest_everything(engine, name, list(classes))
        log(f"{name}: {written:,} suggestions in {time.perf_counter() - started:.1f} s")
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def register_segments(engine, segments: int) -> None:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        project = get_project(session, "bench-audio")
        sources = list(
            session.query(Source).filter(Source.project_id == project.id).order_by(Source.uri)
        )
        per = int(RECORDING_S / STRIDE_S)
        left = segments
        for source in sources:
            rows = []
            for k in range(min(per, left)):
                start = round(0.2 + k * STRIDE_S, 3)
                end = round(start + SEGMENT_S, 3)
                rows.append(ItemRow(f"span:{start:.6f}-{end:.6f}", start_s=start, end_s=end))
            left -= len(rows)
            insert_items(session, source, rows, "proposal")
    log(f"bench-audio: {segments - left:,} segments registered")


def suggest_everything(engine, name: str, classes: list[str]) -> int:  # type: ignore[no-untyped-def]
    """An active model version and a Dirichlet-drawn suggestion for every item without one."""
    rng = np.random.default_rng(7)
    with transaction(engine) as session:
        project = get_project(session, name)
        version = session.query(ModelVersion).filter_by(project_id=project.id).first()
        if version is None:
            version = ModelVersion(
                project_id=project.id,
                arch="benchmark",
                checkpoint_uri="(none: suggestions drawn at random)",
                checkpoint_sha256="0" * 64,
                classes=classes,
                status="active",
            )
            session.add(version)
            session.flush()
        version_id, project_id = version.id, project.id
        done = session.query(Suggestion).filter_by(model_version_id=version_id).count()
        total = session.query(Item).filter_by(project_id=project_id).count()
    if done >= total:
        return 0
    written, after = 0, 0
    while True:
        with transaction(engine) as session:
            ids = [
                i
                for (i,) in session.query(Item.id)
                .filter(Item.project_id == project_id, Item.id > after)
                .order_by(Item.id)
                .limit(50_000)
            ]
            if not ids:
                return written
            p = rng.dirichlet(np.full(len(classes), 0.6), size=len(ids))
            top = np.sort(p, axis=1)
            entropy = -(p * np.log(np.clip(p, 1e-12, 1))).sum(axis=1)
            rows = [
                SuggestionRow(
                    item_id,
                    classes[int(np.argmax(row))],
                    [round(float(v), 6) for v in row],
                    float(top[k, -1]),
                    float(top[k, -1] - top[k, -2]),
                    float(entropy[k]),
                )
                for k, (item_id, row) in enumerate(zip(ids, p, strict=True))
            ]
            written += insert_suggestions(session, version_id, rows)
            after = ids[-1]


# --- the browser ---------------------------------------------------------------------------

NEW_WAVE_TEMPLATE = """old => {
  const strong = HEADER;
  if (!strong || strong.textContent === old) return false;
  const span = strong.parentElement.textContent.match(/([0-9.]+)–([0-9.]+) s/);
  const chart = document.querySelector('[class*="st-key-wave-"] .js-plotly-plot');
  if (!span || !chart || !chart._fullLayout || !chart.layout.shapes) return false;
  return chart.layout.shapes.some(s => Math.abs(s.x0 - parseFloat(span[1])) < 1e-3)
    && !!chart.querySelector('.main-svg');
}"""
ITEM_HEADER = """[...document.querySelectorAll('strong')]
  .find(s => s.textContent.startsWith('Item '))"""
NEW_WAVE = NEW_WAVE_TEMPLATE.replace("HEADER", ITEM_HEADER)
CURRENT_ITEM = f"""() => {{
  const strong = {ITEM_HEADER};
  return strong ? strong.textContent : null;
}}"""
MAIN_IMAGE = """document.querySelector('[data-testid="stMainBlockContainer"] img')"""
CURRENT_CROP = f"""() => {{
  const strong = {ITEM_HEADER};
  const img = {MAIN_IMAGE};
  return (strong ? strong.textContent : '') + '|' + (img ? img.src : '');
}}"""
NEW_CROP = f"""old => {{
  const [header, src] = old.split('|');
  const strong = {ITEM_HEADER};
  const img = {MAIN_IMAGE};
  return !!(strong && strong.textContent !== header && img && img.src !== src
    && img.complete && img.naturalWidth > 0);
}}"""
FIRST_FLIP = """() => {
  const box = document.querySelector('[class*="st-key-flip-"]');
  return box ? [...box.classList].find(c => c.startsWith('st-key-flip-')) : null;
}"""
PAGE_KEYS = """() => [...document.querySelectorAll('[class*="st-key-flip-"]')]
  .map(b => [...b.classList].find(c => c.startsWith('st-key-flip-'))).join(' ')"""
NEW_PAGE = """old => {
  const before = new Set(old.split(' '));
  const keys = [...document.querySelectorAll('[class*="st-key-flip-"]')]
    .map(b => [...b.classList].find(c => c.startsWith('st-key-flip-')));
  if (keys.length < 48 || keys.some(k => before.has(k))) return false;
  const images = [...document.querySelectorAll('[data-testid="stMainBlockContainer"] img')];
  return images.length >= 48 && images.every(i => i.complete && i.naturalWidth > 0);
}"""
FLIPPED = """name => {
  const box = document.querySelector('.' + name + ' button');
  return !!(box && box.textContent.includes('⇄'));
}"""
ADDING_SHOWN = """want => document.body.innerText.includes('Adding a missed segment') === want"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait for two animation frames: what changed has been painted."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def choose_project(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_test_id("stSidebar").get_by_role("combobox").first.click()
    page.get_by_role("option", name=f"{name} (").first.click()
    page.evaluate("() => document.activeElement && document.activeElement.blur()")


def timed_presses(page, key: str, before, wait_js: str, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Press ``key`` ``count`` times; each time wait until ``wait_js(previous state)`` holds."""
    times = []
    for _ in range(count):
        previous = before()
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        started = time.perf_counter()
        page.keyboard.press(key)
        page.wait_for_function(wait_js, arg=previous, timeout=60_000)
        settle(page)
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure_app(url: str, workdir: Path, label: str, actions: int, pages: int) -> dict:
    from playwright.sync_api import sync_playwright

    timing = workdir / f"timing-{label}.csv"
    timing.unlink(missing_ok=True)
    port = free_port()
    process = server.start(port, url, log=workdir / f"server-{label}.log", timing_log=timing)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(server.CHROMIUM), headless=True, args=list(server.CHROMIUM_ARGS)
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(60_000)
            started = time.perf_counter()
            page.goto(f"http://localhost:{port}")
            page.get_by_label("User name").fill(USER)
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("button", name="Accept").first.wait_for()
            log(f"{label}: first page after sign-in in {time.perf_counter() - started:.1f} s")

            choose_project(page, "bench-audio")
            page.wait_for_function(NEW_WAVE, arg="none")
            current = lambda: page.evaluate(CURRENT_ITEM)  # noqa: E731
            timed_presses(page, "a", current, NEW_WAVE, 3)
            results["audio editor"] = {
                "browser": timed_presses(page, "a", current, NEW_WAVE, actions),
                "server": server_times(timing, "audio", actions),
            }
            floor = []
            for want in (True, False) * max(1, actions // 2):
                button = page.get_by_role(
                    "button", name="Cancel add" if not want else "Add segment"
                )
                button.wait_for()
                started = time.perf_counter()
                button.click()
                page.wait_for_function(ADDING_SHOWN, arg=want)
                settle(page)
                floor.append((time.perf_counter() - started) * 1000)
            results["audio editor"]["floor"] = floor

            choose_project(page, "bench-crops")
            page.get_by_role("heading", name="Annotate · bench-crops").wait_for()
            page.wait_for_function(NEW_CROP, arg="|")
            item = lambda: page.evaluate(CURRENT_CROP)  # noqa: E731
            timed_presses(page, "a", item, NEW_CROP, 3)
            results["crop editor"] = {
                "browser": timed_presses(page, "a", item, NEW_CROP, actions),
                "server": server_times(timing, "crop", actions),
            }

            page.get_by_test_id("stSidebar").get_by_text("Review grid").click()
            page.wait_for_function(NEW_PAGE, arg="none")
            first = lambda: page.evaluate(PAGE_KEYS)  # noqa: E731
            timed_presses(page, "a", first, NEW_PAGE, 2)
            results["crop grid (48 crops)"] = {
                "browser": timed_presses(page, "a", first, NEW_PAGE, pages),
                "server": server_times(timing, "crop_grid", pages),
            }
            floor = []
            for _ in range(pages):
                name = page.evaluate(FIRST_FLIP)
                started = time.perf_counter()
                page.locator(f".{name} button").click()
                page.wait_for_function(FLIPPED, arg=name)
                settle(page)
                floor.append((time.perf_counter() - started) * 1000)
                keys = page.evaluate(PAGE_KEYS)
                page.keyboard.press("a")  # a fresh page for the next flip
                page.wait_for_function(NEW_PAGE, arg=keys)
            results["crop grid (48 crops)"]["floor"] = floor
            page.screenshot(path=str(workdir / f"grid-{label}.png"))
            browser.close()
    finally:
        server.stop(process)
    return results


def server_times(timing: Path, view: str, count: int) -> list[float]:
    rows = [line.split(",") for line in timing.read_text().splitlines() if line]
    return [float(ms) for _, name, ms in rows if name == view][-count:]


def summary(values: list[float]) -> str:
    if not values:
        return "—"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return f"{statistics.median(ordered):7.0f} {p95:7.0f}"


def report(label: str, results: dict) -> None:
    print(f"\n{label}: milliseconds, median and p95")
    print(f"{'view':<22} {'browser':>15} {'server':>15} {'no-op rerun':>15}  accept/no-op")
    for view, times in results.items():
        floor = times.get("floor", [])
        ratio = (
            f"{statistics.median(times['browser']) / statistics.median(floor):.2f}"
            if floor
            else "—"
        )
        print(
            f"{view:<22} {summary(times['browser']):>15} {summary(times['server']):>15} "
            f"{summary(floor):>15}  {ratio}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/loupe-bench/annotator"))
    parser.add_argument("--crops", type=int, default=1_000_000)
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--actions", type=int, default=30, help="timed accepts per item view")
    parser.add_argument("--pages", type=int, default=15, help="timed crop grid pages")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="server to create the scratch database loupe_bench_annotator on",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--rebuild", action="store_true", help="build the databases again")
    args = parser.parse_args()
    if not server.CHROMIUM.exists():
        sys.exit("Debian's chromium is needed at /usr/bin/chromium (scripts/setup installs it)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    print(f"projects: {args.crops:,} crops, {args.segments:,} audio segments, one suggestion each")
    crop_dir, audio_dir = generate_media(args.workdir, args.crops, args.segments)
    tag = f"{args.crops}-{args.segments}"
    databases = {"SQLite": f"sqlite:///{args.workdir / f'annotator-{tag}.db'}"}
    if not args.skip_postgres:
        import psycopg

        name = f"loupe_bench_annotator_{args.crops}_{args.segments}"
        base = args.postgres_url.rsplit("/", 1)[0]
        with psycopg.connect(args.postgres_url, autocommit=True) as admin:
            if args.rebuild:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone() is None:
                admin.execute(f'CREATE DATABASE "{name}"')
        databases["PostgreSQL"] = f"{base}/{name}"
    for label, url in databases.items():
        marker = args.workdir / f"built-{label}-{tag}"
        if args.rebuild and label == "SQLite":
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        if args.rebuild or not marker.exists():
            started = time.perf_counter()
            build_database(url, crop_dir, audio_dir, args.segments)
            marker.write_text("built\n")
            log(f"{label}: database built in {time.perf_counter() - started:.0f} s")
        schema.upgrade(url)  # a database built by an older revision
        working = url
        if label == "SQLite":  # measure on a copy: the actions change the queue
            copy = args.workdir / "annotator-run.db"
            for stale in (copy.with_name(copy.name + "-wal"), copy.with_name(copy.name + "-shm")):
                stale.unlink(missing_ok=True)  # a killed run's log would be replayed on the copy
            shutil.copy(url.removeprefix("sqlite:///"), copy)
            working = f"sqlite:///{copy}"
        report(label, measure_app(working, args.workdir, label, args.actions, args.pages))
    print(
        "\nbrowser: key press to the next item drawn (two animation frames after it is in the "
        "page); server: the action's callback to the end of the rerun that shows the next item; "
        "no-op rerun: the same round trip for a rerun that writes nothing (audio: toggle 'Add "
        "segment'; grid: flip one crop)."
    )


if __name__ == "__main__":
    main()
