"""The active-learning benchmark end to end on real data: one JSON object, a plot."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from learner.strategies import STRATEGIES

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "active_learning.py"


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def _is_fraction(value: object) -> bool:
    return isinstance(value, float | int) and math.isfinite(value) and 0.0 <= value <= 1.0


@pytest.mark.slow
def test_piped_run_reports_every_strategy_against_random(shared_data: Path, tmp_path: Path) -> None:
    # A schedule far too short for good models: this checks the report, not the learning.
    result = _run(
        "--dataset", "piped", "--shared-data", str(shared_data), "--seeds", "2",
        "--rounds", "2", "--min-steps", "20", "--epochs", "2", "--mc-passes", "5",
        "--json", "--no-progress", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)  # the whole of stdout is one object

    assert set(report["strategies"]) == set(STRATEGIES)
    protocol = report["protocol"]
    start, batch = protocol["start_labels"], protocol["batch"]
    assert (start, protocol["rounds"], protocol["seeds"]) == (10, 2, 2)
    for name, entry in report["strategies"].items():
        if name == "cold-start":
            assert entry["aulc"] is None and entry["labels_to_95"] is None
            assert _is_fraction(entry["seed_set_f1"]) and _is_fraction(entry["random_seed_set_f1"])
            continue
        assert _is_fraction(entry["aulc"]), name
        assert start <= entry["labels_to_95"] <= start + 2 * batch, name
        assert 0 <= entry["labels_to_95_reached"] <= 2
        curve = entry["curve"]
        assert curve["labels"] == [start, start + batch, start + 2 * batch]
        assert all(_is_fraction(v) for v in curve["mean"]), name
        if name != "random":
            assert math.isfinite(entry["aulc_minus_random"])

    pseudo = report["pseudo_labels"]
    assert _is_fraction(pseudo["coverage"])
    assert pseudo["precision"] is None or _is_fraction(pseudo["precision"])
    assert _is_fraction(report["full_data_f1"])
    assert report["machine"]["torch_threads_per_worker"] == 1

    plot = Path(report["plot"])
    assert plot.parent == tmp_path and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "labels to 95%" in result.stderr  # the table goes to stderr beside --json


def test_data_without_modality_is_rejected(tmp_path: Path) -> None:
    result = _run("--data", str(tmp_path), "--json", timeout=60)
    assert result.returncode != 0 and "--data needs --modality" in result.stderr


def test_unknown_strategy_is_rejected(shared_data: Path, tmp_path: Path) -> None:
    result = _run(
        "--dataset", "piped", "--shared-data", str(shared_data), "--strategies", "greedy",
        "--out", str(tmp_path), timeout=60,
    )  # fmt: skip
    assert result.returncode != 0 and "unknown strategies" in result.stderr
