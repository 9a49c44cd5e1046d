"""Fault injection for the reliability tests: a worker that kills itself once, mid-run, with SIGKILL, and a
row lost once on its way through a stage.

``SFTFORGE_KILL_ONCE`` names counter scopes (comma-separated: ``read``, a stage name such as
``language`` or ``dedup.exact``); ``SFTFORGE_KILL_MARKERS`` names a folder. The first Ray worker that
reports counts for a listed scope creates a marker file there and kills its own process, as the OOM
killer or a lost node would: after it has done the work and before the counts are in. Every later
report finds the marker and goes on. ``SFTFORGE_LOSE_ROW_ONCE`` names stages the same way: the first
batch of a listed stage with a kept row loses that row after the stage counted it, as a bug that drops
data would, so the run's accounting must catch it. Unset (always, outside tests), each is one dictionary
lookup.
"""

from __future__ import annotations

import os
import signal

KILL_ONCE_ENV = "SFTFORGE_KILL_ONCE"
MARKERS_ENV = "SFTFORGE_KILL_MARKERS"
LOSE_ROW_ENV = "SFTFORGE_LOSE_ROW_ONCE"


def maybe_die(scope: str) -> None:
    """Kills this process if ``scope`` is listed and no process has died for it yet."""
    if _first_time(KILL_ONCE_ENV, scope, "killed"):
        os.kill(os.getpid(), signal.SIGKILL)


def maybe_lose_row(scope: str, kept):
    """``kept`` (a ``pyarrow.Table``) without its first row if ``scope`` is listed and lost none yet."""
    if kept.num_rows and _first_time(LOSE_ROW_ENV, scope, "lost-row"):
        return kept.slice(1)
    return kept


def _first_time(env: str, scope: str, what: str) -> bool:
    """Whether ``scope`` is listed in ``env`` and this is the first process to claim its marker file."""
    listed = os.environ.get(env)
    if not listed or scope not in listed.split(","):
        return False
    marker = os.path.join(os.environ.get(MARKERS_ENV, "."), f"{what}-{scope}")
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True
