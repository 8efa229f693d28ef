"""Properties of the containment rule: a path named in an index or labels CSV is read only when
it resolves (``..`` and symlinks followed) inside the CSV's folder or another allowed root;
otherwise its row is an error naming its line. Never a row registered from outside.

The oracle is ``os.path.realpath`` and ``os.path.commonpath``, not the code under test.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learner.formats import crops
from learner.formats.labels_csv import read_labels_csv
from learner.formats.paths import OutsideRootError, contained

SCRATCH = Path(tempfile.mkdtemp(prefix="loupe-paths-"))
"""A fixed layout shared by every example (only the CSVs change):

``base/root`` (the CSV's folder) holds ``sub/``, ``in_link -> root/sub``, ``out_link ->
base/outside``, ``media_link -> base/media`` and ``loop -> loop``; ``base/outside`` and
``base/media`` lie beside it, ``media`` being an allowed root only where a test says so."""
BASE = SCRATCH / "base"
ROOT = BASE / "root"
MEDIA = BASE / "media"
for folder in (ROOT / "sub", BASE / "outside", MEDIA):
    folder.mkdir(parents=True, exist_ok=True)
(BASE / "outside" / "secret.h5").write_bytes(b"")
for name, target in (
    ("in_link", ROOT / "sub"),
    ("out_link", BASE / "outside"),
    ("media_link", MEDIA),
    ("loop", ROOT / "loop"),
):
    (ROOT / name).symlink_to(target)

odd_name = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="/"),
    min_size=1,
    max_size=12,
).filter(lambda s: s == s.strip())  # the readers strip a field's ends
segment = (
    st.sampled_from(
        ["..", ".", "sub", "in_link", "out_link", "media_link", "loop", "outside", "media", "root"]
    )
    | odd_name
)
relative = st.lists(segment, min_size=1, max_size=6).map(lambda parts: "/".join(parts))
named_path = st.one_of(
    relative,
    relative.map(lambda rest: f"{BASE}/{rest}"),  # absolute, into the layout
    relative.map(lambda rest: f"/{rest}"),  # absolute, anywhere
    st.sampled_from(["../outside/secret.h5", "out_link/secret.h5", str(BASE / "outside")]),
)


def _inside(name: str, roots: list[Path]) -> bool:
    real = os.path.realpath(ROOT / name)
    for root in roots:
        top = os.path.realpath(root)
        if os.path.commonpath([real, top]) == top:
            return True
    return False


def _csv(header: list[str], rows: list[list[str]]) -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    path = Path(tempfile.mkstemp(suffix=".csv", dir=ROOT)[1])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize("with_media", [False, True])
@given(names=st.lists(named_path, min_size=1, max_size=8))
def test_index_rows_are_read_inside_or_rejected_by_line(names, with_media) -> None:
    roots = [ROOT, MEDIA] if with_media else [ROOT]
    path = _csv(list(crops.INDEX_HEADER), [[n, "d", str(i), "x"] for i, n in enumerate(names)])
    try:
        rows, errors = crops.read_crop_index(path, roots[1:])
    finally:
        path.unlink()
    assert len(rows) + len(errors) == len(names)
    for row in rows:
        name = names[row.line - 2]
        assert _inside(name, roots), f"{name!r} was read from outside"
        assert row.hdf5_file == Path(os.path.realpath(ROOT / name))
    read = {row.line for row in rows}
    for error in errors:
        line = int(error.member.removeprefix("line "))
        assert line not in read and isinstance(error, OutsideRootError)
    for line, name in enumerate(names, start=2):
        if line not in read:
            assert not _inside(name, roots) or "loop" in name.split("/")


@given(names=st.lists(named_path, min_size=1, max_size=8, unique=True))
def test_labels_csv_rows_outside_the_folder_are_rejected_by_line(names) -> None:
    path = _csv(["file", "label"], [[n, "x"] for n in names])
    try:
        table = read_labels_csv(path)
    finally:
        path.unlink()
    rejected = dict(table.errors)
    for line, name in enumerate(names, start=2):
        if line in rejected:
            assert not _inside(name, [ROOT]) or "loop" in name.split("/")
        else:
            assert _inside(name, [ROOT]), f"{name!r} was read from outside"
    for target, _ in table.rows:
        top = os.path.realpath(ROOT)
        assert os.path.commonpath([str(target), top]) == top


@given(name=named_path)
def test_contained_returns_the_resolved_path_or_raises(name) -> None:
    try:
        resolved = contained(ROOT / name, [ROOT])
    except OutsideRootError as e:
        assert e.reason.startswith(("outside the ingested folder", repr(str(ROOT / name))))
        assert not _inside(name, [ROOT]) or "loop" in name.split("/")
        return
    assert resolved == Path(os.path.realpath(ROOT / name)) and _inside(name, [ROOT])


def test_path_with_a_nul_byte_is_rejected() -> None:
    with pytest.raises(OutsideRootError, match="cannot be resolved"):
        contained(ROOT / "a\x00b", [ROOT])


def test_symlink_loop_is_rejected() -> None:
    with pytest.raises(OutsideRootError, match="cannot be resolved"):
        contained(ROOT / "loop" / "x", [ROOT])


def test_sibling_with_a_common_prefix_is_rejected() -> None:
    sibling = BASE / "root-other"
    sibling.mkdir(exist_ok=True)
    with pytest.raises(OutsideRootError, match="outside the ingested folder"):
        contained(sibling / "x.h5", [ROOT])
