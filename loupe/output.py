"""How commands speak: human text, or exactly one JSON object on stdout with ``--json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer

from learner.formats.errors import FormatError
from store.errors import StoreError

EXIT_USAGE = 2
"""A mistake in what was asked (unknown project, bad class list, unreachable database)."""


def shows_progress(as_json: bool, quiet: bool = False) -> bool:
    """Whether a command draws progress bars and step lines on stderr.

    Never with ``--json``: a script reading the one JSON object should not have to strip
    terminal output from the other stream either.
    """
    return not (as_json or quiet)


def emit(as_json: bool, result: dict, text: Callable[[], str]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result, default=str) + "\n")
    else:
        typer.echo(text())


@contextmanager
def user_errors(as_json: bool) -> Iterator[None]:
    """Turn the errors a user can cause into a clear message and a non-zero exit."""
    try:
        yield
    except (StoreError, FormatError, FileNotFoundError) as e:
        message = str(e)
        if as_json:
            sys.stdout.write(json.dumps({"error": message}) + "\n")
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_USAGE) from None
