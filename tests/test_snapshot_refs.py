"""Snapshot references: one reading for every command, no export over an earlier one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loupe.cli import app

runner = CliRunner()


def loupe(db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--db", db_url])
    return result.exit_code, result.stdout, result.stderr


def loupe_json(db_url: str, *args: str) -> tuple[int, dict]:
    code, out, _ = loupe(db_url, *args, "--json")
    [line] = out.strip().splitlines()
    return code, json.loads(line)


@pytest.fixture
def two_projects(db_url: str, shared_data: Path, tmp_path: Path) -> dict[str, int]:
    """Projects ``alpha`` and ``beta``, each with a snapshot ``s1``: their ids by project."""
    raw = shared_data / "spectra/rampp/raw/References.CSV"
    labels = tmp_path / "labels.csv"
    labels.write_text(f"file,label\n{raw},stable\n")
    ids = {}
    for name in ("alpha", "beta"):
        args = ("--modality", "spectrum", "--classes", "stable,weathered")
        assert loupe(db_url, "project", "create", name, *args)[0] == 0
        assert loupe(db_url, "ingest", name, str(raw), "--labels", str(labels), "--quiet")[0] == 0
        code, snap = loupe_json(db_url, "snapshot", name)
        assert code == 0 and snap["name"] == "s1"
        ids[name] = snap["id"]
    return ids


def test_bare_name_in_two_projects_fails_with_the_commands(db_url, two_projects, tmp_path) -> None:
    out = tmp_path / "out"
    code, _, err = loupe(db_url, "export", "s1", "--format", "csv", "--out", str(out))
    assert code == 2 and "alpha, beta" in err
    assert f"loupe export alpha:s1 --format csv --out {out}" in err
    assert f"loupe export beta:s1 --format csv --out {out}" in err
    assert not out.exists()


def test_project_prefix_and_option_name_the_same_snapshot(db_url, two_projects, tmp_path) -> None:
    code, prefixed = loupe_json(
        db_url, "export", "beta:s1", "--format", "csv", "--out", str(tmp_path / "a")
    )
    assert code == 0 and prefixed["project"] == "beta" and prefixed["ref"] == "beta:s1"
    assert prefixed["snapshot"]["id"] == two_projects["beta"]
    code, out, _ = loupe(
        db_url, "export", "s1", "--project", "beta", "--format", "csv", "--out", str(tmp_path / "b")
    )
    assert code == 0 and f"snapshot beta:s1 (id {two_projects['beta']}" in out


def test_export_into_a_non_empty_folder_is_rejected(db_url, two_projects, tmp_path) -> None:
    out = tmp_path / "out"
    assert loupe(db_url, "export", "alpha:s1", "--format", "csv", "--out", str(out))[0] == 0
    before = (out / "manifest.json").read_text()
    code, _, err = loupe(db_url, "export", "beta:s1", "--format", "csv", "--out", str(out))
    assert code == 2 and "not empty" in err and "alpha:s1" in err and "--overwrite" in err
    assert (out / "manifest.json").read_text() == before
    code, result = loupe_json(
        db_url, "export", "beta:s1", "--format", "csv", "--out", str(out), "--overwrite"
    )
    assert code == 0 and json.loads((out / "manifest.json").read_text())["snapshot"]["project"] == (
        "beta"
    )


def test_number_is_the_id_and_must_belong_to_the_project(db_url, two_projects, tmp_path) -> None:
    beta = str(two_projects["beta"])
    code, result = loupe_json(
        db_url, "export", beta, "--project", "alpha", "--format", "csv", "--out", str(tmp_path)
    )
    assert code == 2 and result["error"] == (
        f"snapshot id {beta} is beta:s1, not a snapshot of project 'alpha'"
    )
    code, result = loupe_json(
        db_url, "export", beta, "--format", "csv", "--out", str(tmp_path / "x")
    )
    assert code == 0 and result["ref"] == "beta:s1"


def test_unknown_project_is_rejected(db_url, two_projects, tmp_path) -> None:
    code, result = loupe_json(
        db_url, "export", "s1", "--project", "ghost", "--format", "csv", "--out", str(tmp_path)
    )
    assert code == 2 and result["error"].startswith("no project named 'ghost'")


def test_train_reads_the_snapshot_the_same_way(db_url, two_projects) -> None:
    code, result = loupe_json(db_url, "train", "beta", "--snapshot", "alpha:s1", "--quiet")
    assert code == 2 and "names project 'alpha'" in result["error"]
    alpha = str(two_projects["alpha"])
    code, result = loupe_json(db_url, "train", "beta", "--snapshot", alpha, "--quiet")
    assert code == 2 and f"snapshot id {alpha} is alpha:s1" in result["error"]


@pytest.mark.parametrize("name", ["7", "alpha:s9"])
def test_snapshot_name_that_reads_as_a_reference_is_rejected(db_url, two_projects, name) -> None:
    code, result = loupe_json(db_url, "snapshot", "alpha", "--name", name)
    assert code == 2 and "cannot name a snapshot" in result["error"]
