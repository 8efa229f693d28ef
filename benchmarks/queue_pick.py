"""Benchmark: ranking and picking the next 100 items out of 1,000,000 open suggestions.

Builds once (cached: ``--workdir``/queue-pick-N.db for SQLite, database
``loupe_bench_queue_pick_N`` beside ``--postgres-url`` for PostgreSQL) a crop project of ``--n``
items, each with one open suggestion of an active model version: probabilities drawn from a
Dirichlet distribution, their confidence, margin and entropy, a BALD score, and an 84-dimensional
float16 embedding (LeNet-5's width), written by the prelabeller's own writer
(``store.suggestions.insert_suggestions``). No media and no model: the queue only reads rows.
Every database is brought to the current schema with ``store.schema.upgrade`` first.

Then, per database, in the same run, it times (median of ``--repeat``):

- ``numpy.argpartition`` of the same ``n`` priorities already in memory, then sorting the 100
  (the floor: no database at all);
- the raw query ``SELECT item_id ... WHERE open ORDER BY priority LIMIT 100`` on the driver;
- ``store.queue.next_items(k=100)`` as the annotator calls it (candidates, availability checks,
  the leases claimed, the items loaded), without and with a 10 % audit share; each in a
  transaction rolled back afterwards, so every repeat sees the same queue;
- ``prelabel.ranking.rerank`` after switching the strategy: to ``margin`` (an uncertainty
  strategy: one ``UPDATE`` over every open suggestion) and to ``diverse`` (the same ``UPDATE``,
  then the leading block: k-center greedy over the 2,000 most uncertain embeddings), and the
  diverse block alone (what prelabel adds after a run).

It prints the machine and a table of seconds with the ratio to ``argpartition``; it never
asserts timings. Run from the repository root::

    nice -n 10 .venv/bin/python benchmarks/queue_pick.py                  # 1,000,000
    .venv/bin/python benchmarks/queue_pick.py --n 100000 --skip-postgres  # quick check
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from learner.embeddings import encode_embeddings  # noqa: E402
from learner.synthetic.crops import CROP_CLASSES  # noqa: E402
from prelabel import ranking  # noqa: E402
from store import queue, schema  # noqa: E402
from store.accounts import add_user  # noqa: E402
from store.catalog import ItemRow, add_source, insert_items  # noqa: E402
from store.engine import make_engine, safe_url, transaction  # noqa: E402
from store.models import ModelVersion, Project, Source, User  # noqa: E402
from store.projects import create_project, get_project  # noqa: E402
from store.suggestions import SuggestionRow, insert_suggestions  # noqa: E402

PROJECT, USER = "bench-queue", "bench"
BATCH = 50_000
EMBEDDING_WIDTH = 84
PICK = 100


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> list[tuple[str, str]]:
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return [
        ("cpu", cpu),
        ("cores", f"{os.cpu_count()} logical"),
        ("python", platform.python_version()),
        ("numpy", np.__version__),
        ("load", f"{os.getloadavg()[0]:.2f} (1-minute average at the start)"),
    ]


# --- data ----------------------------------------------------------------------------------


def build(url: str, n: int) -> None:
    """The project, ``n`` items and one open suggestion per item, in an empty database."""
    engine = make_engine(url)
    with transaction(engine) as session:
        project = create_project(session, PROJECT, "crop", list(CROP_CLASSES))
        add_user(session, USER, "annotator", None)
        source = add_source(session, project.id, "/bench/crops.h5", "hdf5", "0" * 64, 0)
        session.add(
            ModelVersion(
                project_id=project.id,
                arch="benchmark",
                checkpoint_uri="(none: suggestions drawn at random)",
                checkpoint_sha256="0" * 64,
                classes=list(CROP_CLASSES),
                status="active",
            )
        )
        session.flush()
        project_id, source_id = project.id, source.id
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        with transaction(engine) as session:
            source = session.get(Source, source_id)
            rows = [ItemRow(f"crops[{i}]", "crops", i) for i in range(start, min(n, start + BATCH))]
            insert_items(session, source, rows)
    log(f"{n:,} items registered in {time.perf_counter() - started:.0f} s")
    with transaction(engine) as session:
        queue.draw_missing_random_keys(session, project_id)
        version_id = queue.active_version(session, project_id).id
    started = time.perf_counter()
    rng = np.random.default_rng(7)
    with engine.connect() as connection:
        ids = [
            i
            for (i,) in connection.exec_driver_sql(
                f"SELECT id FROM item WHERE project_id = {project_id} ORDER BY id"
            )
        ]
    classes = list(CROP_CLASSES)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        p = rng.dirichlet(np.full(len(classes), 0.6), size=len(chunk))
        top = np.sort(p, axis=1)
        entropy = -(p * np.log(np.clip(p, 1e-12, 1))).sum(axis=1)
        bald = rng.gamma(1.0, 0.05, size=len(chunk))
        blobs = encode_embeddings(rng.normal(size=(len(chunk), EMBEDDING_WIDTH)))
        rows = [
            SuggestionRow(
                item_id,
                classes[int(np.argmax(p[k]))],
                [round(float(v), 6) for v in p[k]],
                float(top[k, -1]),
                float(top[k, -1] - top[k, -2]),
                float(entropy[k]),
                bald=float(bald[k]),
                priority=-float(entropy[k]),
                embedding=blobs[k],
            )
            for k, item_id in enumerate(chunk)
        ]
        with transaction(engine) as session:
            insert_suggestions(session, version_id, rows)
    log(f"{len(ids):,} suggestions written in {time.perf_counter() - started:.0f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE" if "postgresql" in url else "ANALYZE")
    engine.dispose()


# --- measurements --------------------------------------------------------------------------


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    run()  # warm the caches once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(url: str, repeat: int) -> list[tuple[str, float, str]]:
    engine = make_engine(url)
    with transaction(engine) as session:
        project = get_project(session, PROJECT)
        project_id = project.id
        user_id = session.query(User.id).filter(User.name == USER).scalar()
        version_id = queue.active_version(session, project_id).id
        project.settings = dict(project.settings) | {"strategy": "entropy"}
    ranking.rerank(engine, PROJECT)  # a known starting order
    open_query = (
        "SELECT item_id FROM suggestion WHERE model_version_id = {v} AND closed = {f} "
        "ORDER BY priority LIMIT {k}"
    )
    false = "false" if "postgresql" in url else "0"
    with engine.connect() as connection:
        priorities = np.array(
            [
                p
                for (p,) in connection.exec_driver_sql(
                    f"SELECT priority FROM suggestion WHERE model_version_id = {version_id}"
                )
            ],
            dtype=np.float64,
        )
    log(f"{priorities.size:,} priorities in memory")
    results: list[tuple[str, float, str]] = []

    def argpartition() -> np.ndarray:
        head = np.argpartition(priorities, PICK)[:PICK]
        return head[np.argsort(priorities[head])]

    results.append(("numpy.argpartition + sort of 100", median_seconds(argpartition, repeat), ""))

    def raw() -> list:
        with engine.connect() as connection:
            return connection.exec_driver_sql(
                open_query.format(v=version_id, f=false, k=PICK)
            ).all()

    results.append(("raw ORDER BY priority LIMIT 100", median_seconds(raw, repeat), ""))

    def pick(share: float) -> Callable[[], object]:
        def run() -> object:
            with engine.connect() as connection:
                transaction_ = connection.begin()
                session = Session(bind=connection)
                items = queue.next_items(
                    session,
                    project_id,
                    user_id,
                    k=PICK,
                    audit_share=share,
                    rng=random.Random(0),
                )
                assert len(items) == PICK
                session.close()
                transaction_.rollback()
                return items

        return run

    results.append(("queue.next_items(k=100)", median_seconds(pick(0.0), repeat), ""))
    results.append(("queue.next_items(k=100), 10 % audit", median_seconds(pick(0.1), repeat), ""))

    def switch(strategy: str) -> tuple[float, dict]:
        with transaction(engine) as session:
            project = session.get(Project, project_id)
            project.settings = dict(project.settings) | {"strategy": strategy}
        started = time.perf_counter()
        result = ranking.rerank(engine, PROJECT)
        seconds = time.perf_counter() - started
        return seconds, result

    # every switch rewrites the order (margin <-> diverse differ on every row), as a person
    # changing the strategy of a project that has been ranked by another one would
    rerank_repeat = max(1, min(repeat, 3))
    switch("margin")
    timings: dict[str, list[float]] = {"diverse": [], "margin": []}
    notes: dict[str, str] = {}
    for _ in range(rerank_repeat):
        for strategy in ("diverse", "margin"):
            seconds, result = switch(strategy)
            timings[strategy].append(seconds)
            notes[strategy] = f"{result['reranked']:,} rows"
            if strategy == "diverse":
                notes[strategy] += f", block of {result['diverse_block']}"
    for strategy in ("margin", "diverse"):
        results.append(
            (f"rerank, strategy {strategy}", statistics.median(timings[strategy]), notes[strategy])
        )
    switch("diverse")
    block = median_seconds(lambda: ranking.diverse_block(engine, PROJECT), rerank_repeat)
    results.append(("diverse block alone (after prelabel)", block, "2,000 embeddings read"))
    results.append(
        ("queue.next_items(k=100) after the reranks", median_seconds(pick(0.0), repeat), "")
    )
    switch("entropy")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE" if "postgresql" in url else "ANALYZE")
    engine.dispose()
    return results


def empty(url: str, admin_url: str) -> None:
    """Remove the SQLite file, or drop and create the PostgreSQL database again (through the
    server of ``admin_url``)."""
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        return
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def report(label: str, results: list[tuple[str, float, str]]) -> None:
    floor = results[0][1]
    print(f"\n{label}")
    print(f"{'path':<44} {'seconds':>10} {'× argpartition':>15}  note")
    print(f"{'-' * 44} {'-' * 10} {'-' * 15}  {'-' * 4}")
    for path, seconds, note in results:
        print(f"{path:<44} {seconds:>10.5f} {seconds / floor:>15,.1f}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="open suggestions")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/loupe-bench"))
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per path (median)")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="server to create the cached database loupe_bench_queue_pick_N on",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print("machine")
    for key, value in machine():
        print(f"  {key:<8} {value}")
    databases = {"SQLite": f"sqlite:///{args.workdir / f'queue-pick-{args.n}.db'}"}
    if args.skip_postgres:
        print("note: PostgreSQL skipped (--skip-postgres)")
    else:
        import psycopg

        name = f"loupe_bench_queue_pick_{args.n}"
        try:
            with psycopg.connect(args.postgres_url, autocommit=True) as admin:
                found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if found.fetchone() is None:
                    admin.execute(f'CREATE DATABASE "{name}"')
            databases["PostgreSQL"] = f"{args.postgres_url.rsplit('/', 1)[0]}/{name}"
        except psycopg.OperationalError as e:
            print(f"note: PostgreSQL skipped ({safe_url(args.postgres_url)}: {e})")
    for label, url in databases.items():
        marker = args.workdir / f"queue-pick-built-{label}-{args.n}"
        if not marker.exists():  # a first run, or a build that was cut short: start afresh
            empty(url, args.postgres_url)
            schema.upgrade(url)
            started = time.perf_counter()
            build(url, args.n)
            marker.write_text("built\n")
            log(f"{label}: built in {time.perf_counter() - started:.0f} s")
        schema.upgrade(url)  # also a database cached by an older revision
        report(f"{label}: pick {PICK} of {args.n:,} open suggestions", measure(url, args.repeat))
    print(
        "\nseconds: median of the timed runs; × argpartition: over numpy.argpartition of the "
        "same priorities in memory. next_items runs as the annotator calls it and is rolled back "
        "after each run; rerank alternates between margin and diverse (each switch rewrites "
        "every open suggestion's priority), median of three of each."
    )


if __name__ == "__main__":
    main()
