"""Benchmark: many annotators on one queue at once — do leases hold, and how long do people wait?

Builds a crop project of ``--items`` items, each with one open suggestion of an active model
version (no media: the queue only reads rows), and ``--workers`` annotator accounts, in the
database at ``--url`` (which must be migrated and empty: the benchmark builds in it), or, without
``--url``, in a fresh SQLite file and a scratch PostgreSQL database created beside
``--postgres-url`` (dropped at the end).

Each worker is a process of its own that does what the annotator's callbacks do, as fast as a
person with ``--think`` seconds (uniform in ``[0, think]``) between actions: in one transaction
``store.queue.next_items`` (``--page`` items, the project's audit share), then, after thinking,
in one transaction the accept (``store.annotations.record`` with the lease required) and the next
items, until ``--duration`` seconds have passed. Every hand-out and action is logged with the
wall-clock times just before its transaction began and just after it committed.

Afterwards it counts, from those logs and from the database:

- double leases: a hand-out of an item whose transaction ran entirely while another person
  certainly held it (between that person's claim committing and their action beginning);
- items handed to two or more people;
- hand-outs after done: any other hand-out of an item someone else labelled, whose transaction
  committed after that label's (by the clocks just after each commit);
- items with more than one labelling row (duplicate accept/edit rows);
- lost actions: actions a worker saw commit that have no row in the database;
- refused actions: actions refused because the lease was lost (expected only when leases run out).

The window makes the double-lease count conservative (it never counts a case the clocks cannot
prove); items handed to two or more people and duplicate labels are exact, whatever the clocks.

It prints the machine, actions per second, and the median and p95 of the
next-item call and of the action transaction (milliseconds); with ``--json`` one JSON object.
It never asserts anything. Run from the repository root::

    .venv/bin/python benchmarks/annotators_concurrent.py                       # both databases
    .venv/bin/python benchmarks/annotators_concurrent.py --think 2 --duration 60
    .venv/bin/python benchmarks/annotators_concurrent.py --skip-postgres --workers 5
"""

from __future__ import annotations

import argparse
import inspect
import json
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402

from store import queue, schema  # noqa: E402
from store.accounts import add_user  # noqa: E402
from store.annotations import Action, record  # noqa: E402
from store.catalog import ItemRow, add_source, insert_items  # noqa: E402
from store.engine import make_engine, safe_url, transaction  # noqa: E402
from store.errors import StoreError  # noqa: E402
from store.models import Annotation, Item, ModelVersion, Project, Source, User  # noqa: E402
from store.projects import create_project  # noqa: E402
from store.suggestions import SuggestionRow, insert_suggestions  # noqa: E402

PROJECT = "bench-concurrent"
CLASSES = ("small_spatter", "large_spatter")
LABELLING = ("accept", "edit", "reject", "add")
BATCH = 10_000
# Older stores recorded without checking the lease: the benchmark measures them too (before/after).
LEASE_CHECKED = "require_lease" in inspect.signature(record).parameters


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical",
        "python": platform.python_version(),
        "load": f"{os.getloadavg()[0]:.2f} (1-minute average at the start)",
    }


# --- data ----------------------------------------------------------------------------------


def build(url: str, items: int, workers: int) -> None:
    """The project, ``items`` items with one open suggestion each, and ``workers`` accounts."""
    engine = make_engine(url)
    with transaction(engine) as session:
        project = create_project(session, PROJECT, "crop", list(CLASSES))
        for w in range(workers):
            add_user(session, f"annotator-{w}", "annotator", None)
        source = add_source(session, project.id, "/bench/crops.h5", "hdf5", "0" * 64, 0)
        version = ModelVersion(
            project_id=project.id,
            arch="benchmark",
            checkpoint_uri="(none: suggestions drawn at random)",
            checkpoint_sha256="0" * 64,
            classes=list(CLASSES),
            status="active",
        )
        session.add(version)
        session.flush()
        project_id, source_id, version_id = project.id, source.id, version.id
    for start in range(0, items, BATCH):
        with transaction(engine) as session:
            rows = [
                ItemRow(f"crops[{i}]", "crops", i) for i in range(start, min(items, start + BATCH))
            ]
            insert_items(session, session.get(Source, source_id), rows)
    with transaction(engine) as session:
        queue.draw_missing_random_keys(session, project_id)
        item_ids = list(session.scalars(select(Item.id).where(Item.project_id == project_id)))
    rng = random.Random(7)
    for start in range(0, len(item_ids), BATCH):
        rows = []
        for item_id in item_ids[start : start + BATCH]:
            p = rng.random()
            top = max(p, 1 - p)
            rows.append(
                SuggestionRow(
                    item_id,
                    CLASSES[0] if p >= 0.5 else CLASSES[1],
                    [round(p, 6), round(1 - p, 6)],
                    top,
                    2 * top - 1,
                    0.0,
                    priority=top,
                )
            )
        with transaction(engine) as session:
            insert_suggestions(session, version_id, rows)
    # planner statistics, as autovacuum (PostgreSQL) would have them soon after a real prelabel:
    # without them PostgreSQL scans every open suggestion per pick (73 ms instead of 0.2 ms)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


# --- the annotators --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    url: str
    duration_s: float
    think_s: float
    page: int
    seed: int


def annotate(worker: int, plan: Plan, out: str) -> None:
    """One annotator: take items, think, accept them, until the time is up; log to ``out``."""
    engine = make_engine(plan.url)
    rng = random.Random(plan.seed * 1000 + worker)
    with transaction(engine) as session:
        project = session.scalar(select(Project).where(Project.name == PROJECT))
        user = session.scalar(select(User).where(User.name == f"annotator-{worker}"))
        project_id, user_id = project.id, user.id
        audit_share = float(project.settings.get("audit_share", 0.1))
    handouts: list[tuple[int, float, float]] = []  # item, began, committed
    actions: list[tuple[int, str, float, float]] = []  # item, action, began, committed
    refused: list[int] = []
    next_ms: list[float] = []
    action_ms: list[float] = []

    def take(session) -> list:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        items = queue.next_items(
            session, project_id, user_id, k=plan.page, audit_share=audit_share, rng=rng
        )
        next_ms.append((time.perf_counter() - started) * 1000)
        return items

    began = time.time()
    with transaction(engine) as session:
        shown = take(session)
    committed = time.time()
    handouts += [(i.item_id, began, committed) for i in shown]
    deadline = time.monotonic() + plan.duration_s
    while shown and time.monotonic() < deadline:
        time.sleep(rng.uniform(0, plan.think_s))
        batch = [
            Action(
                i.item_id,
                "accept",
                i.label,
                suggestion_id=i.suggestion_id,
                model_version_id=i.model_version_id,
                duration_s=0.5,
            )
            for i in shown
        ]
        began, started = time.time(), time.perf_counter()
        try:
            with transaction(engine) as session:
                project = session.get(Project, project_id)
                user = session.get(User, user_id)
                if LEASE_CHECKED:
                    record(session, project, user, batch, require_lease=True)
                else:
                    record(session, project, user, batch)
                following = take(session)
        except StoreError:  # the lease was lost: nothing was written
            refused += [a.item_id for a in batch]
            with transaction(engine) as session:
                following = take(session)
            committed = time.time()
        else:
            committed = time.time()
            actions += [(a.item_id, a.action, began, committed) for a in batch]
        action_ms.append((time.perf_counter() - started) * 1000)
        handouts += [(i.item_id, began, committed) for i in following]
        shown = following
    engine.dispose()
    Path(out).write_text(
        json.dumps(
            {
                "worker": worker,
                "user_id": user_id,
                "handouts": handouts,
                "actions": actions,
                "refused": refused,
                "next_ms": next_ms,
                "action_ms": action_ms,
            }
        )
    )


def run_workers(url: str, workers: int, plan: Plan) -> list[dict]:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        outs = [str(Path(folder) / f"worker-{w}.json") for w in range(workers)]
        processes = [
            context.Process(target=annotate, args=(w, plan, outs[w])) for w in range(workers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        failed = [w for w, p in enumerate(processes) if p.exitcode != 0]
        if failed:
            raise RuntimeError(f"workers {failed} failed (see their tracebacks above)")
        return [json.loads(Path(out).read_text()) for out in outs]


# --- what happened -------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def analyse(url: str, logs: list[dict], duration_s: float) -> dict:
    """Count double leases, hand-outs after done, duplicates and lost actions (see above)."""
    handed: dict[int, list[tuple[int, float, float]]] = defaultdict(list)  # item → (user, b, c)
    acted: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    for entry in logs:
        for item, began, committed in entry["handouts"]:
            handed[item].append((entry["user_id"], began, committed))
        for item, _action, began, committed in entry["actions"]:
            acted[item].append((entry["user_id"], began, committed))
    double_leases = after_done = 0
    for item, outs in handed.items():
        for user, began, committed in outs:
            # someone else certainly held it: their claim had committed, their action not begun
            held = [
                (c, min([a for u, a, _ in acted[item] if u == other and a > c], default=1e18))
                for other, _, c in outs
                if other != user
            ]
            if any(since < began and committed < until for since, until in held):
                double_leases += 1
            elif any(u != user and c < committed for u, _, c in acted[item]):
                after_done += 1
    to_many = sum(1 for outs in handed.values() if len({u for u, _, _ in outs}) > 1)
    engine = make_engine(url)
    with transaction(engine) as session:
        rows = session.execute(
            select(Annotation.item_id, Annotation.user_id, Annotation.action).where(
                Annotation.action.in_(LABELLING)
            )
        ).all()
    engine.dispose()
    in_db: dict[tuple[int, int], int] = defaultdict(int)
    per_item: dict[int, int] = defaultdict(int)
    for item, user, _action in rows:
        in_db[(item, user)] += 1
        per_item[item] += 1
    logged: dict[tuple[int, int], int] = defaultdict(int)
    for entry in logs:
        for item, _action, _b, _c in entry["actions"]:
            logged[(item, entry["user_id"])] += 1
    lost = sum(max(0, n - in_db.get(key, 0)) for key, n in logged.items())
    next_ms = [v for entry in logs for v in entry["next_ms"]]
    action_ms = [v for entry in logs for v in entry["action_ms"]]
    total_actions = sum(len(entry["actions"]) for entry in logs)
    return {
        "actions": total_actions,
        "fewest_actions_by_one_annotator": min(len(entry["actions"]) for entry in logs),
        "actions_per_s": round(total_actions / duration_s, 1),
        "next_item_ms": {
            "p50": round(percentile(next_ms, 0.5), 1),
            "p95": round(percentile(next_ms, 0.95), 1),
        },
        "action_ms": {
            "p50": round(percentile(action_ms, 0.5), 1),
            "p95": round(percentile(action_ms, 0.95), 1),
        },
        "double_leases": double_leases,
        "items_to_two_or_more": to_many,
        "handed_out_after_done": after_done,
        "items_with_duplicate_labels": sum(1 for n in per_item.values() if n > 1),
        "lost_actions": lost,
        "refused_actions": sum(len(entry["refused"]) for entry in logs),
    }


def measure(url: str, args: argparse.Namespace, workers: int) -> dict:
    log(f"building {args.items:,} items and {workers} accounts in {safe_url(url)}")
    build(url, args.items, workers)
    plan = Plan(url, args.duration, args.think, args.page, args.seed)
    log(f"{workers} annotators for {args.duration:.0f} s, think ≤ {args.think} s, page {args.page}")
    logs = run_workers(url, workers, plan)
    return analyse(url, logs, args.duration)


def scratch_postgres(base_url: str) -> tuple[str, str]:
    import psycopg

    name = f"loupe_bench_concurrent_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    prefix, _, _ = base_url.rpartition("/")
    return f"{prefix}/{name}", name


def drop_postgres(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=20, help="annotators (PostgreSQL)")
    parser.add_argument("--sqlite-workers", type=int, default=5, help="annotators on SQLite")
    parser.add_argument("--think", type=float, default=0.02, help="most seconds between actions")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of annotating")
    parser.add_argument("--items", type=int, default=30_000)
    parser.add_argument("--page", type=int, default=1, help="items per hand-out (48: the grid)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--url", help="one migrated, empty database to run in (no scratch ones)")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()

    results: dict[str, dict] = {}
    if args.url:
        dialect = "postgresql" if args.url.startswith("postgres") else "sqlite"
        workers = args.workers if dialect == "postgresql" else args.sqlite_workers
        results[dialect] = measure(args.url, args, workers)
    else:
        if not args.skip_sqlite:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{folder}/concurrent.db"
                schema.upgrade(url)
                results["sqlite"] = measure(url, args, args.sqlite_workers)
        if not args.skip_postgres:
            url, name = scratch_postgres(args.postgres_url)
            try:
                schema.upgrade(url)
                results["postgresql"] = measure(url, args, args.workers)
            finally:
                drop_postgres(args.postgres_url, name)
    report = {"machine": machine(), "lease_checked_on_record": LEASE_CHECKED, "results": results}
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report["machine"].items():
        print(f"{key:>8}: {value}")
    print(
        f"think time ≤ {args.think} s, {args.duration:.0f} s, page {args.page}, "
        f"{args.items:,} items, lease checked on record: {LEASE_CHECKED}"
    )
    rows = [
        ("actions/s", "actions_per_s"),
        ("next item p50 ms", ("next_item_ms", "p50")),
        ("next item p95 ms", ("next_item_ms", "p95")),
        ("action p50 ms", ("action_ms", "p50")),
        ("action p95 ms", ("action_ms", "p95")),
        ("double leases", "double_leases"),
        ("items to 2+ people", "items_to_two_or_more"),
        ("handed out after done", "handed_out_after_done"),
        ("items with duplicate labels", "items_with_duplicate_labels"),
        ("lost actions", "lost_actions"),
        ("refused (lease lost)", "refused_actions"),
    ]
    names = list(results)
    print(f"{'':>28} " + " ".join(f"{n:>12}" for n in names))
    for title, key in rows:
        values = []
        for name in names:
            value = results[name]
            for part in key if isinstance(key, tuple) else (key,):
                value = value[part]
            values.append(f"{value:>12}")
        print(f"{title:>28} " + " ".join(values))
    for name in names:
        print(
            f"{name}: {results[name]['actions']} actions by "
            f"{args.workers if name == 'postgresql' else args.sqlite_workers} annotators"
        )


if __name__ == "__main__":
    main()
