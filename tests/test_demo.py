"""The README's first command ends in `loupe demo`: a prelabelled project per modality."""

from __future__ import annotations

import json
import subprocess
import sys


def test_demo_builds_three_prelabelled_projects_and_reruns_cleanly(tmp_path) -> None:
    command = [
        sys.executable,
        "-m",
        "loupe",
        "demo",
        "--json",
        "--workspace",
        str(tmp_path / "ws"),
        "--db",
        f"sqlite:///{tmp_path / 'demo.db'}",
    ]
    first = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    result = json.loads(first.stdout)
    assert set(result["projects"]) == {"demo-audio", "demo-spectra", "demo-crops"}
    for name, counts in result["projects"].items():
        assert counts["items"] > 0 and counts["suggestions"] == counts["items"], name
        assert counts["model_versions"] == 1 and counts["snapshots"] == 1
        assert 0.0 <= result["models"][name]["macro_f1"] <= 1.0
    again = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["projects"] == result["projects"]  # nothing added twice
