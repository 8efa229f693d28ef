"""What decoding libraries say while they read a file, caught instead of printed.

OpenCV, libpng and libjpeg write warnings and errors straight to the process's standard error,
and h5py, soundfile and numpy raise Python warnings; a reader that lets them through prints
lines on the terminal that belong to no file. Reading inside :func:`library_messages` collects
them, so the caller can attach them to the file they are about.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def library_messages() -> Iterator[list[str]]:
    """Collect Python warnings and anything written to file descriptor 2 inside the block.

    The list is filled when the block ends. Standard error is redirected for the whole process
    while the block runs, so use it around single-threaded reads (ingest, verify), not around
    decoding in worker threads.
    """
    messages: list[str] = []
    sys.stderr.flush()
    with (
        tempfile.TemporaryFile() as sink,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield messages
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
            messages.extend(f"{w.category.__name__}: {w.message}" for w in caught)
            messages.extend(
                _ADDRESS.sub("", line.strip()) for line in text.splitlines() if line.strip()
            )


_ADDRESS = re.compile(r" @ 0x[0-9a-fA-F]+")
"""FFmpeg prefixes its messages with an object's address, which differs run to run; without
it the same message on a rerun is the same ingest error (recorded once)."""


def summary(messages: list[str]) -> str:
    """The messages as one line, each once, in the order first said."""
    return "; ".join(dict.fromkeys(messages))
