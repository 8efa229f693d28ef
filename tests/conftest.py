"""Fixtures: databases built by the real migrations, on SQLite and on PostgreSQL.

Every test that takes ``db_url`` runs twice: on a SQLite file copied from a migrated template,
and on a PostgreSQL database cloned from a migrated template database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine

# Password hashes at the product's scrypt cost take ~0.5 s each; tests (and the processes they
# start, which inherit this) hash at a tiny cost. Set before any settings are read.
os.environ["LOUPE_PASSWORD_WORK_FACTOR"] = "1024"

from store import schema  # noqa: E402
from store.engine import make_engine, transaction  # noqa: E402
from store.projects import create_project  # noqa: E402
from store.settings import load_settings  # noqa: E402

load_settings()  # applies the work factor to this process too

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "explore",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("LOUPE_HYPOTHESIS_PROFILE", "ci"))
"""Property tests run a few dozen examples each in CI; ``LOUPE_HYPOTHESIS_PROFILE=explore``
runs thousands when hunting reader bugs."""

SHARED_DATA = Path(
    os.environ.get("LOUPE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
POSTGRES_URL = os.environ.get(
    "LOUPE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _admin() -> psycopg.Connection:
    return psycopg.connect(POSTGRES_URL, autocommit=True)


def _database_url(name: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    schema.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    name = f"loupe_template_{os.getpid()}"
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    schema.upgrade(_database_url(name))
    yield name
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database: a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "loupe.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"loupe_test_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _database_url(name)
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_project(engine: Engine):  # type: ignore[no-untyped-def]
    """Create a project: ``make_project(name, modality, classes)``."""

    def make(name: str, modality: str, classes: list[str], settings: dict | None = None) -> int:
        with transaction(engine) as session:
            return create_project(session, name, modality, classes, settings).id

    return make


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(f"the real sample data is expected at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo (three prelabelled projects, a ``demo`` account), built once per run."""
    from prelabel.demo import build_demo

    folder = tmp_path_factory.mktemp("demo")
    build_demo(folder / "workspace", database_url=f"sqlite:///{folder / 'demo.db'}")
    return folder / "demo.db"


@pytest.fixture
def demo_url(demo_database: Path, tmp_path: Path) -> str:
    """A private copy of the demo database for one test."""
    path = tmp_path / "demo.db"
    shutil.copy(demo_database, path)
    return f"sqlite:///{path}"


@pytest.fixture
def wait_until_interrupted(engine: Engine, db_url: str):  # type: ignore[no-untyped-def]
    """``wait(project, project_id, kind, stale_s, env)``: the id of the project's newest job,
    once it is shown as interrupted (its heartbeat older than ``stale_s``), checked to be shown so
    by ``loupe status --json`` too (run with ``env``); fails if it still looks alive 30 s on."""
    import json
    import subprocess
    import sys
    import time

    from store.jobs import recent_jobs

    def wait(project: str, project_id: int, kind: str, stale_s: float, env: dict) -> int:
        deadline = time.monotonic() + stale_s + 30
        while True:
            with transaction(engine) as session:
                [job] = recent_jobs(session, project_id, stale_after_s=stale_s, limit=1)
            if job.status == "interrupted":
                break
            assert job.status == "running", job
            assert time.monotonic() < deadline, "a killed job still looks alive"
            time.sleep(0.1)
        status = subprocess.run(
            [sys.executable, "-m", "loupe", "status", project, "--json", "--db", db_url],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        newest = json.loads(status.stdout)["jobs"][0]
        assert (newest["id"], newest["kind"], newest["status"]) == (job.id, kind, "interrupted")
        return job.id

    return wait
