"""``loupe serve`` stops its Streamlit server with it: a SIGTERM (as ``docker stop`` sends)
or SIGINT to loupe leaves nothing listening and no child behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotator import server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def serving(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """``loupe serve`` on a free port of a migrated database, in a session of its own so that
    whatever it leaves behind is killed afterwards."""
    database = tmp_path / "loupe.db"
    shutil.copy(sqlite_template, database)
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loupe",
            "serve",
            "--port",
            str(port),
            "--db",
            f"sqlite:///{database}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not server.healthy(port):
            assert process.poll() is None, "loupe serve exited before it served"
            assert time.monotonic() < deadline, "loupe serve did not answer within 90 s"
            time.sleep(0.3)
        yield process, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_its_server_on_a_signal(serving, signum: int) -> None:  # type: ignore[no-untyped-def]
    process, port = serving
    children = _children(process.pid)
    assert children, "loupe serve runs the server as a child process"
    os.kill(process.pid, signum)
    process.wait(timeout=15)
    deadline = time.monotonic() + 5
    while (_listening(port) or any(map(_alive, children))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _listening(port), f"port {port} still open after loupe serve exited"
    assert not any(map(_alive, children)), "the Streamlit child outlived loupe serve"
