"""Release ids of nightly refreshes: the UTC date of the night."""

from __future__ import annotations

import datetime as dt
import re

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def release_for_date(date: str | None = None) -> str:
    """``YYYY-MM-DD`` for ``date`` (checked), or today's UTC date.

    Raises:
        ConfigError: ``date`` is not a calendar date written ``YYYY-MM-DD``.
    """
    from sftforge.jobs.config import ConfigError

    if date is None:
        return dt.datetime.now(dt.UTC).date().isoformat()
    if not _DATE.match(date):
        raise ConfigError(f"--date '{date}': expected YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(date).isoformat()
    except ValueError as exc:
        raise ConfigError(f"--date '{date}': {exc}") from None
