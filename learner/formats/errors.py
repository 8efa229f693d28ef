"""The error every reader raises for unreadable input: it names the place and the reason."""

from __future__ import annotations


class FormatError(ValueError):
    """A file, or a part of it (``member``: a line, column or entry), cannot be read."""

    def __init__(self, reason: str, member: str | None = None) -> None:
        super().__init__(reason if member is None else f"{member}: {reason}")
        self.reason = reason
        self.member = member
