"""JSON Lines files whose every line must be an object (seed tasks, labelled training data).

The reader proper rejects a bad row and goes on; these small files are hand-made inputs to a command,
so a bad line stops it with the file and line named.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def json_objects(lines: Iterable[str], source: str, error: type[Exception]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yields ``("<source>:<line>", object)`` for each non-blank line.

    Raises:
        error: A line is not valid JSON, or not a JSON object; the message starts with ``<source>:<line>``.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise error(f"{where}: expected a JSON object")
        yield where, record
