"""Starting the annotator as a Streamlit server: for ``loupe serve``, the browser tests and the
latency benchmark, which all run the same command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium, which the browser tests and the latency benchmark drive headless."""
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # a closed network otherwise refuses many connections
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def command(port: int, host: str = "localhost") -> list[str]:
    """The ``streamlit run`` command line of the app."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--client.toolbarMode",
        "minimal",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def environment(database_url: str | None = None, **settings: object) -> dict[str, str]:
    """This process's environment with the database URL and other ``LOUPE_`` settings set."""
    env = dict(os.environ)
    if database_url:
        env["LOUPE_DATABASE_URL"] = database_url
    for name, value in settings.items():
        if value is not None:
            env[f"LOUPE_{name.upper()}"] = str(value)
    return env


STOP_GRACE_S = 10.0
"""How long a signalled server may take to close its sessions before it is killed."""


def run(port: int, host: str, env: dict[str, str]) -> int:
    """Serve in the foreground until the server exits; return its exit status.

    SIGTERM and SIGINT sent to this process are passed on to the server, which is then waited
    for (and killed after ``STOP_GRACE_S``): a supervisor (``docker stop``, systemd) that
    signals ``loupe serve`` alone would otherwise leave the server running, still listening.
    """
    process = subprocess.Popen(command(port, host), env=env)
    signalled: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        signalled.append(time.monotonic())
        if process.poll() is None:
            process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            try:
                return process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if signalled and time.monotonic() - signalled[0] > STOP_GRACE_S:
                    process.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process.poll() is None:
            process.kill()
            process.wait()


def start(
    port: int, database_url: str, *, log: Path | None = None, **settings: object
) -> subprocess.Popen:
    """Start the server in the background and wait until its health endpoint answers.

    Raises
    ------
    RuntimeError
        The server exited or did not answer within a minute; the message holds its output.
    """
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        command(port),
        env=environment(database_url, **settings),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(errors="replace")[-2000:] if log else ""
            raise RuntimeError(f"the annotator exited with {process.returncode}: {text}")
        if healthy(port):
            return process
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"the annotator did not answer on port {port} within 60 s")


def healthy(port: int, host: str = "localhost") -> bool:
    """Whether Streamlit's health endpoint answers ``ok``."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/_stcore/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
