"""Benchmark: register the crops of a large HDF5 store into SQLite and PostgreSQL.

For each database, in one run, this measures

1. the product path: ``prelabel.ingest.ingest`` of the store's folder end to end (hash of the
   file, listing of its datasets, reading of ``index.csv``, items registered in transactions of
   5000), and separately the SHA-256 of the file alone, so the share of registration is visible;
2. the raw path: the same item rows inserted with the driver's own ``executemany`` and a plain
   ``INSERT INTO item (...) VALUES (...)`` into the same migrated schema (the unique index on
   ``(source_id, locator)`` is live), 5000 rows and one commit per batch, like the product.

It prints items per second and the ratio product/raw, with the machine it ran on. It never
asserts timings: the figures are for a person to read. Run it from the repository root::

    .venv/bin/python benchmarks/register_crops.py            # 600,000 crops
    .venv/bin/python benchmarks/register_crops.py --n 50000 --skip-postgres

The crop store is generated once (``learner.synthetic.crops.write_crop_store``, unlabelled
crops) into ``--cache`` and reused by later runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py  # noqa: F401  (imported up front so no measurement pays for the import)
import psycopg
import sqlalchemy

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from learner.formats import crops as crop_formats  # noqa: E402
from learner.synthetic.crops import write_crop_store  # noqa: E402
from prelabel.ingest import ingest, sha256_of  # noqa: E402
from store import catalog, schema  # noqa: E402
from store.base import utcnow  # noqa: E402
from store.catalog import ITEM_COLUMNS  # noqa: E402
from store.engine import make_engine, safe_url, transaction  # noqa: E402
from store.projects import create_project  # noqa: E402

DEFAULT_N = 600_000
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 5000
"""Rows per transaction, on both paths (the product's default ``batch_size``)."""
PROJECT = "bench-crops"
CLASSES = ["small_spatter", "large_spatter"]
SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
)
"""What ``store.engine`` sets on every SQLite connection; the raw path sets the same."""
SQLITE_STAMP = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy's ``DateTime`` writes a timestamp into SQLite."""


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the machine ---------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def postgres_info(url: str) -> dict[str, str] | None:
    """Server version and durability settings, or ``None`` when the server cannot be reached."""
    try:
        with psycopg.connect(_libpq_url(url), connect_timeout=5) as connection:
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
    print("machine")
    print(f"  date        {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"  cpu         {cpu_model()}")
    print(f"  cores       {cores}")
    print(f"  python      {platform.python_version()} ({platform.python_implementation()})")
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
    print()


# --- the crop store --------------------------------------------------------------------------


def crop_store(cache: Path, n: int) -> Path:
    """The folder holding ``spatter.h5`` and ``index.csv`` with ``n`` unlabelled crops.

    Generated once into ``<cache>.partial`` and renamed, so a folder that exists is complete.
    """
    h5 = cache / "spatter.h5"
    if h5.is_file() and (cache / "index.csv").is_file():
        datasets, _ = crop_formats.list_crop_datasets(h5)
        found = sum(d.length for d in datasets)
        if found != n:
            raise SystemExit(f"{cache} holds {found} crops, not {n}: pass another --cache")
        say(f"crop store: reusing {cache} ({h5.stat().st_size / 1e6:.0f} MB)")
        return cache
    partial = cache.with_name(cache.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    say(f"crop store: generating {n:,} crops into {cache} (once; later runs reuse it)")
    start = time.perf_counter()
    write_crop_store(partial, n, seed=0, labelled_fraction=0.0, progress=sys.stderr.isatty())
    partial.rename(cache)
    say(
        f"crop store: written in {time.perf_counter() - start:.1f} s "
        f"({h5.stat().st_size / 1e6:.0f} MB)"
    )
    return cache


def item_rows(h5: Path) -> list[tuple[str, str, int]]:
    """``(locator, member, position)`` of every crop, in the order the product registers them."""
    datasets, _ = crop_formats.list_crop_datasets(h5)
    return [(f"{d.name}[{i}]", d.name, i) for d in datasets for i in range(d.length)]


# --- measurements ----------------------------------------------------------------------------


@dataclass
class Database:
    name: str
    fresh: Callable[[], str]
    """Gives the URL of an empty, migrated database (a new one per measurement)."""
    raw: Callable[[str, int, int, list[tuple[str, str, int]]], float]
    """Inserts the rows with the bare driver; returns the seconds."""


@dataclass
class Result:
    database: str
    path: str
    items: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("nan")


def make_project_and_source(url: str, h5: Path) -> tuple[int, int]:
    """Project and source rows for the raw path, through the store functions."""
    engine = make_engine(url)
    try:
        digest, size = sha256_of(h5)
        with transaction(engine) as session:
            project = create_project(session, PROJECT, "crop", CLASSES)
            source = catalog.add_source(session, project.id, str(h5), "hdf5", digest, size, {})
            return project.id, source.id
    finally:
        engine.dispose()


def count_items(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT count(*) FROM item").scalar_one()
    finally:
        engine.dispose()


def measure_ingest(url: str, folder: Path) -> tuple[float, int]:
    """Seconds of ``ingest`` of the folder and the items it added."""
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            create_project(session, PROJECT, "crop", CLASSES)
        start = time.perf_counter()
        report = ingest(engine, PROJECT, [folder], batch_size=BATCH, progress=sys.stderr.isatty())
        seconds = time.perf_counter() - start
    finally:
        engine.dispose()
    if report.errors:
        print(f"  warning: ingest recorded {len(report.errors)} errors: {report.errors[:3]}")
    return seconds, report.items_added


def raw_sqlite(url: str, project_id: int, source_id: int, rows: list) -> float:
    path = sqlalchemy.engine.make_url(url).database
    stamp = utcnow().strftime(SQLITE_STAMP)
    values = [
        (project_id, source_id, loc, member, pos, None, None, None, None, "ingest", stamp)
        for loc, member, pos in rows
    ]
    sql = (
        f"INSERT INTO item ({', '.join(ITEM_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in ITEM_COLUMNS)})"
    )
    connection = sqlite3.connect(path)
    try:
        for pragma in SQLITE_PRAGMAS:
            connection.execute(pragma)
        start = time.perf_counter()
        for first in range(0, len(values), BATCH):
            connection.executemany(sql, values[first : first + BATCH])
            connection.commit()
        return time.perf_counter() - start
    finally:
        connection.close()


def raw_postgres(url: str, project_id: int, source_id: int, rows: list) -> float:
    stamp = utcnow()
    values = [
        (project_id, source_id, loc, member, pos, None, None, None, None, "ingest", stamp)
        for loc, member, pos in rows
    ]
    sql = (
        f"INSERT INTO item ({', '.join(ITEM_COLUMNS)}) "
        f"VALUES ({', '.join('%s' for _ in ITEM_COLUMNS)})"
    )
    with psycopg.connect(_libpq_url(url)) as connection:
        start = time.perf_counter()
        for first in range(0, len(values), BATCH):
            with connection.cursor() as cursor:
                cursor.executemany(sql, values[first : first + BATCH])
            connection.commit()
        return time.perf_counter() - start


def _libpq_url(url: str) -> str:
    """The URL as libpq takes it (no ``+driver`` suffix)."""
    parsed = sqlalchemy.engine.make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_database(workdir: Path) -> Database:
    counter = iter(range(1_000_000))

    def fresh() -> str:
        path = workdir / f"loupe-{next(counter)}.db"
        url = f"sqlite:///{path}"
        schema.upgrade(url)
        return url

    return Database("sqlite", fresh, raw_sqlite)


def postgres_database(url: str) -> Database:
    def fresh() -> str:
        schema.downgrade(url)
        schema.upgrade(url)
        return url

    return Database("postgresql", fresh, raw_postgres)


def run_database(
    db: Database, folder: Path, rows: list, hash_s: float, reading_s: float, repeat: int
) -> list[Result]:
    """Product and raw paths on one database; ``reading_s`` is the time of listing the
    datasets and reading ``index.csv``, measured alone."""
    n = len(rows)
    h5 = folder / "spatter.h5"
    ingest_s, raw_s = [], []
    for attempt in range(1, repeat + 1):
        tag = f" (run {attempt}/{repeat})" if repeat > 1 else ""
        say(f"{db.name}: migrating an empty database for the product path{tag}")
        url = db.fresh()
        say(f"{db.name}: ingest of {folder} ({n:,} crops) ...")
        seconds, added = measure_ingest(url, folder)
        stored = count_items(url)
        if added != n or stored != n:
            print(
                f"  warning: ingest added {added:,} items, the table holds {stored:,}, want {n:,}"
            )
        say(f"{db.name}: ingest done in {seconds:.2f} s ({added / seconds:,.0f} items/s)")
        ingest_s.append(seconds)

        say(f"{db.name}: migrating an empty database for the raw path{tag}")
        url = db.fresh()
        project_id, source_id = make_project_and_source(url, h5)
        say(f"{db.name}: raw executemany of {n:,} rows in batches of {BATCH} ...")
        seconds = db.raw(url, project_id, source_id, rows)
        stored = count_items(url)
        if stored != n:
            print(f"  warning: the raw path left {stored:,} items, want {n:,}")
        say(f"{db.name}: raw done in {seconds:.2f} s ({n / seconds:,.0f} items/s)")
        raw_s.append(seconds)
    ingest_best, raw_best = min(ingest_s), min(raw_s)
    driver = "sqlite3" if db.name == "sqlite" else "psycopg"
    return [
        Result(db.name, "loupe ingest, end to end", n, ingest_best),
        Result(db.name, "loupe ingest minus sha256", n, max(ingest_best - hash_s, 1e-9)),
        Result(
            db.name,
            "  and minus listing + index.csv",
            n,
            max(ingest_best - hash_s - reading_s, 1e-9),
        ),
        Result(db.name, f"raw {driver} executemany", n, raw_best),
    ]


def print_table(results: list[Result]) -> None:
    header = ("database", "path", "items", "seconds", "items/s", "product/raw")
    lines = []
    raw_rate = {r.database: r.rate for r in results if r.path.startswith("raw")}
    for r in results:
        ratio = "1.00 (ref)" if r.path.startswith("raw") else f"{r.rate / raw_rate[r.database]:.2f}"
        lines.append(
            (r.database, r.path, f"{r.items:,}", f"{r.seconds:.2f}", f"{r.rate:,.0f}", ratio)
        )
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    right = {2, 3, 4, 5}

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in lines:
        print(fmt(row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="crops in the store")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder of the generated store (default /tmp/loupe-bench/crops-N)",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=1, help="measurements per path; the fastest is reported"
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeat < 1:
        parser.error("--n and --repeat must be at least 1")
    cache = (args.cache or Path(f"/tmp/loupe-bench/crops-{args.n}")).expanduser().resolve()

    pg = None if args.skip_postgres else postgres_info(args.postgres_url)
    if args.skip_postgres:
        print("note: PostgreSQL skipped (--skip-postgres)")
    print_machine(pg)

    folder = crop_store(cache, args.n)
    h5 = folder / "spatter.h5"
    size_mb = h5.stat().st_size / 1e6

    # Where the product's time goes besides registration; the file is read once first so
    # every figure, the ingest's own hash included, is for a file in the page cache.
    say("warming the page cache and timing the parts of ingest that are not registration")
    sha256_of(h5)
    hashes = []
    for _ in range(3):
        start = time.perf_counter()
        sha256_of(h5)
        hashes.append(time.perf_counter() - start)
    hash_s = statistics.median(hashes)
    start = time.perf_counter()
    crop_formats.list_crop_datasets(h5)
    list_s = time.perf_counter() - start
    start = time.perf_counter()
    index_rows, _ = crop_formats.read_crop_index(folder / "index.csv")
    index_s = time.perf_counter() - start
    del index_rows
    rows = item_rows(h5)
    print(f"  {'sha256 of the file (' + format(size_mb, '.0f') + ' MB)':<36}{hash_s:8.3f} s")
    print(f"  {'listing the datasets':<36}{list_s:8.3f} s")
    print(f"  {'reading index.csv (' + format(args.n, ',') + ' rows)':<36}{index_s:8.3f} s")
    print()

    workdir = Path(tempfile.mkdtemp(prefix="loupe-bench-sqlite-"))
    say(f"sqlite: databases go to {workdir} (removed at the end)")
    databases = [sqlite_database(workdir)]
    if pg is not None:
        databases.append(postgres_database(args.postgres_url))
    results: list[Result] = []
    try:
        for db in databases:
            results += run_database(db, folder, rows, hash_s, list_s + index_s, args.repeat)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if pg is not None:  # leave no benchmark rows behind in the PostgreSQL database
            say("postgresql: downgrading the database to base (empty) again")
            schema.downgrade(args.postgres_url)

    print()
    print(
        f"registering {args.n:,} unlabelled crops of one HDF5 store ({size_mb:.0f} MB), "
        f"{BATCH} items per transaction"
        + (f", fastest of {args.repeat} runs" if args.repeat > 1 else "")
    )
    print_table(results)
    print()
    print(
        "product/raw: items/s of the product path over items/s of the raw driver executemany "
        "(target >= 0.50).\n'minus sha256' subtracts the hash of the file measured alone; "
        "'and minus listing + index.csv' also subtracts\nthe listing of the datasets and the "
        "reading of index.csv measured alone (above), leaving about the registration of items."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
