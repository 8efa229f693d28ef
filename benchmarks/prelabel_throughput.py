"""Benchmark: ``loupe prelabel`` of a large crop store, end to end and stage by stage.

On a generated HDF5 store of JPEG crops (1 % labelled), for SQLite (a temporary file) and
PostgreSQL (a scratch database created for the run and dropped at the end), this ingests the
store, trains a LeNet-5 for an epoch or two on the imported labels (its quality does not matter),
evaluates and promotes it, and then measures, in the same run:

1. the product path: ``prelabel.prelabel.run_prelabel`` with every item pending (the figure is
   the product's own ``items_per_s``);
2. decode + featurise only: ``learner.featurise.featurise("crop", refs, settings, stores)``
   over every item, in batches of ``--batch-size``, the refs built from the rows of
   ``store.suggestions.iter_pending`` (one streamed query) as the product's reader thread builds
   them, with the HDF5 file kept open across batches as it does (the streaming of those rows
   is timed on its own too);
3. forward only: the model on the same arrays already in memory, batched, in
   ``torch.inference_mode``, with the product's thread setting (``--threads``, default torch's
   own, as ``loupe prelabel`` without ``--threads``), and with one thread, and,
   separately, the whole main-thread computation of a batch (forward, softmax, scores, the
   ``SuggestionRow`` objects: ``prelabel.prelabel._suggestions``);
4. insert only: ``store.suggestions.insert_suggestions`` of the precomputed rows for a second
   model version, one transaction per batch.

It prints the machine, timestamped phases, and a table of items/s per stage with the ratio
end to end / slowest of stages 2-4 (target >= 0.6). It also prints end-to-end items/s of
prelabel for generated spectra (``figure2``) and audio segments (``cnn``), SQLite only. It never
asserts timings: the figures are for a person to read. Run it from the repository root::

    .venv/bin/python benchmarks/prelabel_throughput.py                  # 200,000 crops
    .venv/bin/python benchmarks/prelabel_throughput.py --n 20000 --skip-postgres

Generated data is cached under ``/tmp/loupe-bench`` (``prelabel-crops-N``,
``prelabel-spectra-N``, ``prelabel-audio-N``) and reused by later runs. The database at
``--postgres-url`` is only used to create and drop the scratch database ``loupe_bench_<pid>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py  # noqa: F401  (imported up front so no measurement pays for the import)
import psycopg
import sqlalchemy
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from learner.checkpoint import load_model  # noqa: E402
from learner.featurise import Features, ItemRef, featurise  # noqa: E402
from learner.formats import crops as crop_formats  # noqa: E402
from learner.formats.crops import OpenStores  # noqa: E402
from learner.synthetic import (  # noqa: E402
    AUDIO_CLASSES,
    CROP_CLASSES,
    SPECTRUM_CLASSES,
    write_crop_store,
    write_recordings,
    write_spectra,
)
from learner.training import TrainConfig  # noqa: E402
from prelabel.evaluate import evaluate_version, promote_version  # noqa: E402
from prelabel.ingest import ingest  # noqa: E402
from prelabel.prelabel import _Batch, _suggestions, run_prelabel  # noqa: E402
from prelabel.train import train_model  # noqa: E402
from store import schema  # noqa: E402
from store.engine import make_engine, safe_url, transaction  # noqa: E402
from store.models import ModelVersion, Suggestion  # noqa: E402
from store.projects import create_project, get_project  # noqa: E402
from store.snapshots import create_snapshot  # noqa: E402
from store.suggestions import (  # noqa: E402
    PendingItem,
    SuggestionRow,
    insert_suggestions,
    iter_pending,
)

DEFAULT_N = 200_000
DEFAULT_SPECTRA = 20_000
DEFAULT_RECORDINGS = 200
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
LABELLED_FRACTION = 0.01
TARGET = 0.6
CACHE_ROOT = Path("/tmp/loupe-bench")


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load() -> float:
    """The 1-minute load average: on a shared machine, other work moves every figure."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


# --- the machine ---------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def libpq_url(url: str) -> str:
    """The URL as libpq takes it (no ``+driver`` suffix)."""
    parsed = sqlalchemy.engine.make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_info(url: str) -> dict[str, str] | None:
    """Server version and durability settings, or ``None`` when the server cannot be reached."""
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=5) as connection:
            return {
                name: connection.execute(f"SHOW {name}").fetchone()[0]
                for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
            }
    except psycopg.Error as e:
        print(f"note: PostgreSQL at {safe_url(url)} is unreachable, skipped: {e}".strip())
        return None


def print_machine(pg: dict[str, str] | None) -> None:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()} logical" + (
        f" ({affinity} usable by this process)" if affinity not in (None, os.cpu_count()) else ""
    )
    environment = {
        name: os.environ[name]
        for name in (
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
            "MALLOC_MMAP_MAX_",
            "MALLOC_TRIM_THRESHOLD_",
            "MALLOC_MMAP_THRESHOLD_",
            "MALLOC_TOP_PAD_",
        )
        if name in os.environ
    }
    print("machine")
    print(f"  date        {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"  cpu         {cpu_model()}")
    print(f"  cores       {cores}")
    print(f"  python      {platform.python_version()} ({platform.python_implementation()})")
    print(
        f"  torch       {torch.__version__}, {torch.get_num_threads()} intra-op threads "
        f"(the product's setting: torch's default), cuda {torch.cuda.is_available()}"
    )
    print(
        "  environment "
        + (", ".join(f"{k}={v}" for k, v in environment.items()) or "no thread/malloc overrides")
    )
    print(f"  sqlite      {sqlite3.sqlite_version} (journal WAL, synchronous NORMAL)")
    if pg is None:
        print("  postgresql  not measured")
    else:
        print(
            f"  postgresql  {pg['server_version']} (fsync {pg['fsync']}, synchronous_commit "
            f"{pg['synchronous_commit']}, shared_buffers {pg['shared_buffers']})"
        )
    print(f"  libraries   SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__}")
    print(f"  platform    {platform.platform()}")
    print(f"  load        {load():.2f} (1-minute average at the start)")
    print()


# --- generated data (cached) -----------------------------------------------------------------


def cached(folder: Path, complete: Callable[[Path], bool], write: Callable[[Path], None]) -> Path:
    """``folder`` when complete; otherwise written into ``<folder>.partial`` and renamed."""
    if complete(folder):
        say(f"data: reusing {folder}")
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    say(f"data: generating {folder} (once; later runs reuse it)")
    start = time.perf_counter()
    write(partial)
    partial.rename(folder)
    say(f"data: written in {time.perf_counter() - start:.1f} s")
    return folder


def crop_store(n: int) -> Path:
    def complete(folder: Path) -> bool:
        h5 = folder / "spatter.h5"
        if not (h5.is_file() and (folder / "index.csv").is_file()):
            return False
        datasets, _ = crop_formats.list_crop_datasets(h5)
        return sum(d.length for d in datasets) == n

    return cached(
        CACHE_ROOT / f"prelabel-crops-{n}",
        complete,
        lambda out: write_crop_store(
            out, n, seed=0, labelled_fraction=LABELLED_FRACTION, progress=sys.stderr.isatty()
        ),
    )


def spectra_folder(n: int) -> Path:
    return cached(
        CACHE_ROOT / f"prelabel-spectra-{n}",
        lambda folder: folder.is_dir() and sum(1 for _ in folder.glob("*.txt")) == n,
        lambda out: write_spectra(out, n, seed=0),
    )


def audio_folder(n: int) -> Path:
    return cached(
        CACHE_ROOT / f"prelabel-audio-{n}",
        lambda folder: folder.is_dir() and sum(1 for _ in folder.glob("*.wav")) == n,
        lambda out: write_recordings(out, n, seed=0),
    )


def warm_page_cache(folder: Path) -> None:
    """Read every file once, so no measurement pays for the disk."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                while f.read(1 << 24):
                    pass


# --- databases -------------------------------------------------------------------------------


@contextmanager
def sqlite_database(workdir: Path, name: str) -> Iterator[str]:
    url = f"sqlite:///{workdir / f'{name}.db'}"
    schema.upgrade(url)
    yield url


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """A fresh, migrated scratch database beside the one at ``url``, dropped afterwards."""
    name = f"loupe_bench_{os.getpid()}"
    scratch = (
        sqlalchemy.engine.make_url(url).set(database=name).render_as_string(hide_password=False)
    )
    with psycopg.connect(libpq_url(url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    say(f"postgresql: created the scratch database {name}")
    try:
        schema.upgrade(scratch)
        yield scratch
    finally:
        with psycopg.connect(libpq_url(url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        say(f"postgresql: dropped the scratch database {name}")


# --- set-up: a promoted model -------------------------------------------------------------------


def prepare_project(
    engine: sqlalchemy.Engine,
    project: str,
    modality: str,
    classes: tuple[str, ...],
    folder: Path,
    arch: str,
    epochs: int,
    models_dir: Path,
    tag: str,
) -> int:
    """Create, ingest, snapshot, train, evaluate, promote; returns the active version's id."""
    with transaction(engine) as session:
        create_project(session, project, modality, list(classes))
    start = time.perf_counter()
    report = ingest(engine, project, [folder], progress=False)
    say(
        f"{tag}: ingested {report.items_added:,} items in {time.perf_counter() - start:.1f} s"
        + (f" ({len(report.errors)} errors)" if report.errors else "")
    )
    with transaction(engine) as session:
        project_id = get_project(session, project).id
        snapshot = create_snapshot(session, project_id)
        snapshot_name, counts = snapshot.name, snapshot.counts
    say(f"{tag}: snapshot {snapshot_name}: {counts['by_split']}")
    config = TrainConfig(
        arch=arch, epochs=epochs, min_epochs=1, patience=epochs + 1, seed=0, device="cpu"
    )
    start = time.perf_counter()
    trained = train_model(
        engine, project, snapshot_name, config, models_dir=models_dir, progress=False
    )
    version_id = trained["model_version"]
    evaluation = evaluate_version(engine, version_id, reports_dir=models_dir / "reports")
    decision = promote_version(engine, version_id)["decision"]
    say(
        f"{tag}: {arch} trained {epochs} epoch(s), evaluated and {decision} in "
        f"{time.perf_counter() - start:.1f} s (version {version_id}, test macro-F1 "
        f"{evaluation['macro_f1']:.3f})"
    )
    return version_id


def second_version(engine: sqlalchemy.Engine, version_id: int) -> int:
    """A candidate copy of a version (same checkpoint): a target for suggestions of its own."""
    with transaction(engine) as session:
        first = session.get(ModelVersion, version_id)
        copy = ModelVersion(
            project_id=first.project_id,
            arch=first.arch,
            checkpoint_uri=first.checkpoint_uri,
            checkpoint_sha256=first.checkpoint_sha256,
            classes=list(first.classes),
            snapshot_id=first.snapshot_id,
            config=dict(first.config),
            metrics={},
            environment=dict(first.environment),
            temperature=first.temperature,
            status="candidate",
        )
        session.add(copy)
        session.flush()
        return copy.id


def analyzed(engine: sqlalchemy.Engine) -> str:
    """Whether PostgreSQL has statistics for the tables that ``pending_items`` reads: right
    after a bulk ingest, autovacuum may not have analyzed them yet, and the plan differs."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT relname, coalesce(last_analyze, last_autoanalyze) IS NOT NULL "
            "FROM pg_stat_user_tables WHERE relname IN ('item', 'suggestion') ORDER BY relname"
        ).all()
    return ", ".join(f"{name} {'analyzed' if done else 'never analyzed'}" for name, done in rows)


def count_suggestions(engine: sqlalchemy.Engine, version_id: int) -> int:
    with transaction(engine) as session:
        return session.scalar(
            sqlalchemy.select(sqlalchemy.func.count()).where(
                Suggestion.model_version_id == version_id
            )
        )


# --- measurements ----------------------------------------------------------------------------


def _postgres_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL server processes of this machine (Linux)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        if name.startswith("postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _cpu_now() -> tuple[float, float, float, float]:
    """(wall clock, CPU seconds busy on the whole machine, of this process, of PostgreSQL)."""
    busy = pg = float("nan")
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        # user nice system idle iowait irq softirq steal
        busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        pg = _postgres_cpu()
    except (OSError, ValueError):
        pass
    own = os.times()
    return time.perf_counter(), busy, own.user + own.system, pg


@dataclass
class Meter:
    """Wall seconds of a block, and the cores kept busy in it by this process, by the
    PostgreSQL server, and by every other process (on a shared 2-core machine, the last figure
    explains a lot)."""

    seconds: float = 0.0
    ours: float = float("nan")
    postgres: float = float("nan")
    others: float = float("nan")


@contextmanager
def metered() -> Iterator[Meter]:
    meter = Meter()
    wall, busy, own, pg = _cpu_now()
    yield meter
    wall_2, busy_2, own_2, pg_2 = _cpu_now()
    meter.seconds = wall_2 - wall
    if meter.seconds > 0:
        meter.ours = (own_2 - own) / meter.seconds
        meter.postgres = (pg_2 - pg) / meter.seconds
        others = (busy_2 - busy) - (own_2 - own) - (pg_2 - pg)
        meter.others = max(0.0, others) / meter.seconds


@dataclass
class Stage:
    database: str
    name: str
    thread: str
    items: int
    seconds: float
    ours: float
    postgres: float
    others: float
    number: int | None = None
    """1-4: the stages of the brief; None for the extra, explanatory rows."""

    @classmethod
    def of(
        cls,
        database: str,
        name: str,
        thread: str,
        items: int,
        meter: Meter,
        number: int | None = None,
        seconds: float | None = None,
    ) -> Stage:
        return cls(
            database,
            name,
            thread,
            items,
            meter.seconds if seconds is None else seconds,
            meter.ours,
            meter.postgres,
            meter.others,
            number,
        )

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("nan")


def measure_crops(
    database: str,
    url: str,
    folder: Path,
    workdir: Path,
    batch_size: int,
    epochs: int,
    threads: int | None,
) -> list[Stage]:
    project = f"bench-prelabel-{database}"
    engine = make_engine(url)
    try:
        version_id = prepare_project(
            engine,
            project,
            "crop",
            CROP_CLASSES,
            folder,
            "lenet5",
            epochs,
            workdir / f"models-{database}",
            database,
        )
        other_id = second_version(engine, version_id)
        with transaction(engine) as session:
            found = get_project(session, project)
            project_id, settings = found.id, dict(found.settings)
            version = session.get(ModelVersion, version_id)
            checkpoint, sha256 = Path(version.checkpoint_uri), version.checkpoint_sha256
            temperature = version.temperature or 1.0
        stages: list[Stage] = []

        def done(stage: Stage) -> None:
            stages.append(stage)
            say(
                f"{database}: {stage.name}: {stage.items:,} items in {stage.seconds:.2f} s, "
                f"{stage.rate:,.0f} items/s (cores busy: ours {stage.ours:.2f}, PostgreSQL "
                f"{stage.postgres:.2f}, other processes {stage.others:.2f})"
            )

        # 1. The product, every item pending. Its own figure (``seconds``) leaves out loading
        # the model and counting the pending items; the call's wall time is printed too.
        if engine.dialect.name == "postgresql":
            say(f"{database}: planner statistics: {analyzed(engine)}")
        say(f"{database}: 1. run_prelabel end to end (batch {batch_size}) ...")
        with metered() as meter:
            result = run_prelabel(
                engine, project, batch_size=batch_size, progress=False, threads=threads
            )
        n = result["items"]
        done(
            Stage.of(
                database, "run_prelabel, end to end", "both", n, meter, None, result["seconds"]
            )
        )
        say(
            f"{database}: run_prelabel: {result['failures']} failures, the whole call "
            f"(model load and counting included) {meter.seconds:.2f} s"
        )
        stored = count_suggestions(engine, version_id)
        if stored != result["suggestions"]:
            print(f"  warning: {stored:,} suggestions stored, run_prelabel said {n:,}")

        # The pending rows, streamed as the reader thread streams them (for the copy version,
        # which has no suggestions yet, so every item is pending again).
        pages: list[list[PendingItem]] = []
        with metered() as meter, transaction(engine) as session:
            pages.extend(iter_pending(session, project_id, other_id, batch_size=batch_size))
        paged = sum(len(p) for p in pages)
        done(Stage.of(database, "stream pending rows (iter_pending)", "reader", paged, meter))

        # 2. Decode + featurise only, the file kept open across batches like the reader does.
        features: list[Features] = []
        with metered() as meter, OpenStores() as stores:
            for page in pages:
                refs = [
                    ItemRef(i.source_uri, i.source_kind, i.member, i.position, i.start_s, i.end_s)
                    for i in page
                ]
                features.append(featurise("crop", refs, settings, stores))
        done(Stage.of(database, "decode + featurise", "reader", paged, meter, 2))
        failures = sum(len(f.failures) for f in features)
        if failures:
            print(f"  warning: featurise could not read {failures} items")

        # 3. Forward only, with the product's thread setting and with one thread, and the main
        # thread's whole computation of a batch.
        model, meta = load_model(checkpoint, sha256)
        device = torch.device("cpu")
        model = model.to(device).eval()
        tensors = [torch.as_tensor(f.x[:, None]) for f in features]
        with torch.inference_mode():
            model(tensors[0])  # the first call allocates; the product pays that once too
        threads = torch.get_num_threads()  # as run_prelabel left it
        with metered() as meter, torch.inference_mode():
            for t in tensors:
                model(t)
        done(
            Stage.of(
                database,
                f"forward only, {threads} torch thread{'s' if threads != 1 else ''}",
                "main",
                paged,
                meter,
                3,
            )
        )
        if threads != 1:  # what one model thread would give, alone on the machine
            torch.set_num_threads(1)
            try:
                with metered() as meter, torch.inference_mode():
                    for t in tensors:
                        model(t)
            finally:
                torch.set_num_threads(threads)
            done(Stage.of(database, "forward only, 1 torch thread", "main", paged, meter))
        del tensors
        rows: list[list[SuggestionRow]] = []
        with metered() as meter:
            for page, f in zip(pages, features, strict=True):
                batch = _Batch(page, f.x, f.kept, f.failures)
                rows.append(_suggestions(model, device, batch, meta["classes"], temperature))
        done(Stage.of(database, "forward + softmax + scores + rows", "main", paged, meter))
        del features

        # 4. Insert only, for the copy version, one transaction per batch.
        inserted = 0
        with metered() as meter:
            for batch_rows in rows:
                with transaction(engine) as session:
                    inserted += insert_suggestions(session, other_id, batch_rows)
        total_rows = sum(len(r) for r in rows)
        done(Stage.of(database, "insert_suggestions only", "main", total_rows, meter, 4))
        if inserted != total_rows:
            print(f"  warning: inserted {inserted:,} rows, want {total_rows:,}")
        return stages
    finally:
        engine.dispose()


def measure_end_to_end(
    threads: int | None,
    url: str,
    project: str,
    modality: str,
    classes: tuple[str, ...],
    folder: Path,
    arch: str,
    epochs: int,
    models_dir: Path,
    batch_size: int,
) -> dict:
    engine = make_engine(url)
    try:
        prepare_project(
            engine, project, modality, classes, folder, arch, epochs, models_dir, project
        )
        say(f"{project}: run_prelabel end to end (batch {batch_size}) ...")
        with metered() as meter:
            result = run_prelabel(
                engine, project, batch_size=batch_size, progress=False, threads=threads
            )
        say(
            f"{project}: {result['items']:,} items in {result['seconds']:.2f} s (the whole call "
            f"{meter.seconds:.2f} s), "
            f"{result['items_per_s']:,.0f} items/s (cores busy: ours {meter.ours:.2f}, "
            f"PostgreSQL {meter.postgres:.2f}, other processes {meter.others:.2f})"
        )
        return result | {"modality": modality, "arch": arch, "meter": meter}
    finally:
        engine.dispose()


# --- output ------------------------------------------------------------------------------------


def print_table(header: tuple[str, ...], lines: list[tuple[str, ...]], right: set[int]) -> None:
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in lines:
        print(fmt(row))


def print_crop_table(stages: list[Stage]) -> None:
    header = ("database", "stage", "thread", "items", "seconds", "items/s", "e2e/stage")
    header += ("ours", "pg", "others")
    lines = []
    for database in dict.fromkeys(s.database for s in stages):
        mine = [s for s in stages if s.database == database]
        e2e = mine[0]
        for s in mine:
            label = f"{s.number}. {s.name}" if s.number else ("1. " if s is e2e else "   ") + s.name
            ratio = "" if s is e2e else f"{e2e.rate / s.rate:.2f}"
            lines.append(
                (
                    database,
                    label,
                    s.thread,
                    f"{s.items:,}",
                    f"{s.seconds:.2f}",
                    f"{s.rate:,.0f}",
                    ratio,
                    f"{s.ours:.2f}",
                    f"{s.postgres:.2f}",
                    f"{s.others:.2f}",
                )
            )
    print_table(header, lines, {3, 4, 5, 6, 7, 8, 9})
    print()
    for database in dict.fromkeys(s.database for s in stages):
        mine = [s for s in stages if s.database == database]
        e2e = mine[0]
        slowest = min((s for s in mine if s.number), key=lambda s: s.rate)
        reader = sum(s.seconds / s.items for s in mine if s.thread == "reader")
        main = sum(
            s.seconds / s.items
            for s in mine
            if s.thread == "main" and not s.name.startswith("forward only")
        )
        bound = 1 / max(reader, main)
        print(
            f"{database}: end to end / slowest stage ({slowest.number}. {slowest.name}) = "
            f"{e2e.rate / slowest.rate:.2f} (target >= {TARGET})"
        )
        print(
            f"{' ' * len(database)}  per-thread bound: reader (pending rows + featurise) "
            f"{1 / reader:,.0f}/s, main (suggestions + insert) {1 / main:,.0f}/s; "
            f"end to end / bound = {e2e.rate / bound:.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="crops in the store")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--spectra", type=int, default=DEFAULT_SPECTRA, help="spectra (0 to skip them)"
    )
    parser.add_argument(
        "--recordings", type=int, default=DEFAULT_RECORDINGS, help="recordings (0 to skip them)"
    )
    parser.add_argument("--epochs", type=int, default=2, help="training epochs of each model")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for run_prelabel and the forward stage (default: torch's own)",
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.batch_size < 1 or args.epochs < 1:
        parser.error("--n, --batch-size and --epochs must be at least 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")

    pg = None if args.skip_postgres else postgres_info(args.postgres_url)
    if args.skip_postgres:
        print("note: PostgreSQL skipped (--skip-postgres)")
    print_machine(pg)

    folder = crop_store(args.n)
    say("warming the page cache with the crop store")
    warm_page_cache(folder)
    workdir = Path(tempfile.mkdtemp(prefix="loupe-bench-prelabel-"))
    say(f"sqlite databases, checkpoints and reports go to {workdir} (removed at the end)")
    stages: list[Stage] = []
    others: list[dict] = []
    try:
        with sqlite_database(workdir, "crops") as url:
            stages += measure_crops(
                "sqlite", url, folder, workdir, args.batch_size, args.epochs, args.threads
            )
        if pg is not None:
            with postgres_database(args.postgres_url) as url:
                stages += measure_crops(
                    "postgresql", url, folder, workdir, args.batch_size, args.epochs, args.threads
                )
        if args.spectra:
            spectra = spectra_folder(args.spectra)
            warm_page_cache(spectra)
            with sqlite_database(workdir, "spectra") as url:
                others.append(
                    measure_end_to_end(
                        args.threads,
                        url,
                        "bench-spectra",
                        "spectrum",
                        SPECTRUM_CLASSES,
                        spectra,
                        "figure2",
                        args.epochs,
                        workdir / "models-spectra",
                        args.batch_size,
                    )
                )
        if args.recordings:
            recordings = audio_folder(args.recordings)
            warm_page_cache(recordings)
            with sqlite_database(workdir, "audio") as url:
                others.append(
                    measure_end_to_end(
                        args.threads,
                        url,
                        "bench-audio",
                        "audio",
                        AUDIO_CLASSES,
                        recordings,
                        "cnn",
                        args.epochs,
                        workdir / "models-audio",
                        args.batch_size,
                    )
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(
        f"prelabel of {args.n:,} crops (HDF5 JPEG, lenet5), batch {args.batch_size}, "
        f"{torch.get_num_threads()} torch thread(s)"
    )
    print_crop_table(stages)
    print(
        "\ne2e/stage: end-to-end items/s over the stage's items/s; the ratio above uses the "
        "slowest of the numbered stages 2-4.\nThe other rows explain: 'stream pending rows' is "
        "the reader thread's database read, 'forward + softmax +\nscores + rows' the main "
        "thread's whole computation of a batch (prelabel._suggestions), 'forward only, 1 torch\n"
        "thread' the model with one thread instead of the product's setting. The per-thread "
        "bound is what a perfect\noverlap of the reader thread and the main thread would give. "
        "ours / pg / others: CPU cores kept busy\nduring the stage by this process / by the "
        "PostgreSQL server (anyone's queries) / by every other process\n(this machine has "
        f"{os.cpu_count()} cores; others > 0 means load from outside the benchmark).\n"
        f"The load average was {load():.2f} at the end."
    )
    if others:
        print()
        print("prelabel end to end, other modalities (SQLite)")
        print_table(
            ("modality", "model", "items", "seconds", "items/s", "call s", "ours", "others"),
            [
                (
                    o["modality"],
                    o["arch"],
                    f"{o['items']:,}",
                    f"{o['seconds']:.2f}",
                    f"{o['items_per_s']:,.0f}",
                    f"{o['meter'].seconds:.2f}",
                    f"{o['meter'].ours:.2f}",
                    f"{o['meter'].others:.2f}",
                )
                for o in others
            ],
            {2, 3, 4, 5, 6, 7},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
