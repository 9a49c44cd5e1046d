"""Nightly refresh: process new and changed input files, carry the other files' rows over.

See ``session.RefreshSession`` for the run's steps and ``carry`` for the carry store.
"""

from sftforge.jobs.refresh.dates import release_for_date
from sftforge.jobs.refresh.releases import RefreshError
from sftforge.jobs.refresh.session import RefreshSession

__all__ = ["RefreshError", "RefreshSession", "release_for_date", "run_refresh"]


def run_refresh(config, date: str | None = None, config_source: str | None = None):
    """Runs ``config`` as the refresh of ``date`` (default: today, UTC); returns the ``RunResult``.

    Raises:
        RefreshError: Another refresh of the same ``output.dir`` is running.
    """
    import uuid

    from sftforge.jobs.pipeline import run_job

    session = RefreshSession(config, release_for_date(date), uuid.uuid4().hex[:12])
    session.prepare()
    try:
        return run_job(config, config_source=config_source, refresh=session)
    finally:
        session.close()
