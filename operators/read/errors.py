"""What can go wrong while reading, and how it is named.

A file that cannot be read at all raises ``InputError`` naming the file; a row that cannot be used raises
``Rejected`` inside the reader and becomes a rejected row. ``ROW_ERRORS`` are the Python errors that
converting one row can raise and that say nothing about the rest of the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class InputError(Exception):
    """An input path or file that cannot be read; ``path`` names it."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")

    def __reduce__(self):
        # Keeps the two-argument constructor working when Ray pickles the error back from a worker.
        return (type(self), (self.path, self.message))


class Rejected(Exception):
    """A row that cannot be used; carries the reason and the text that could be recovered."""

    def __init__(self, reason: str, text: str | None = None, fields: Mapping[str, Any] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.text = text
        self.fields = dict(fields or {})


#: Errors that converting one row can raise and that say nothing about the rest of the file.
ROW_ERRORS = (RecursionError, ValueError, OverflowError, TypeError, UnicodeError, MemoryError)


def describe_row_error(exc: BaseException) -> str:
    """A one-line name for a row's conversion error."""
    if isinstance(exc, RecursionError):
        return "nesting too deep (RecursionError)"
    message = " ".join(str(exc).split())[:160]
    if isinstance(exc, ValueError) and "integer string conversion" in message:
        return "integer too large (over 4300 digits)"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
