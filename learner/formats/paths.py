"""Which paths ingest may follow: the one rule for every path read from a file or a folder.

A path named in a file (an index CSV's ``hdf5_file``, a labels CSV's ``file``), or found by
walking a folder (a symlink among the images), is resolved — ``..`` segments and every symlink
followed — and must then lie inside one of the allowed roots: the folder given to ingest (or the
folder of the file that names it) or a configured media root. Anything else is refused, so a CSV
dropped into a watched folder cannot make Loupe register, decode or quote a file elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from learner.formats.errors import FormatError


class OutsideRootError(FormatError):
    """A path resolves outside every allowed root (or cannot be resolved at all)."""


def contained(path: Path, roots: Sequence[Path]) -> Path:
    """The resolved ``path``, if it lies inside one of ``roots`` (each resolved too).

    Returns the resolved path, so the caller reads exactly what was checked.

    Raises
    ------
    OutsideRootError
        The path cannot be resolved (an embedded NUL, a symlink loop, a name too long), or it
        resolves outside every root; the reason says where it leads and what is allowed.
    """
    try:
        resolved = path.resolve()
        allowed = [root.expanduser().resolve() for root in roots]
    except (OSError, ValueError, RuntimeError) as e:
        # RuntimeError: a symlink loop before Python 3.13; ValueError: an embedded NUL.
        raise OutsideRootError(f"{str(path)!r} cannot be resolved ({e})") from e
    if any(resolved.is_relative_to(root) for root in allowed):
        return resolved
    where = ", ".join(str(root) for root in dict.fromkeys(allowed)) or "none"
    raise OutsideRootError(
        f"outside the ingested folder: {str(path)!r} resolves to {resolved} "
        f"(allowed: {where}; add a media root to allow another folder)"
    )
