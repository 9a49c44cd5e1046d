"""Fault injection for the reliability tests: a worker that kills itself once, mid-run, with SIGKILL.

``SFTFORGE_KILL_ONCE`` names counter scopes (comma-separated: ``read``, a stage name such as
``language`` or ``dedup.exact``); ``SFTFORGE_KILL_MARKERS`` names a folder. The first Ray worker that
reports counts for a listed scope creates a marker file there and kills its own process, as the OOM
killer or a lost node would: after it has done the work and before the counts are in. Every later
report finds the marker and goes on. Unset (always, outside tests), this is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

KILL_ONCE_ENV = "SFTFORGE_KILL_ONCE"
MARKERS_ENV = "SFTFORGE_KILL_MARKERS"


def maybe_die(scope: str) -> None:
    """Kills this process if ``scope`` is listed and no process has died for it yet."""
    listed = os.environ.get(KILL_ONCE_ENV)
    if not listed or scope not in listed.split(","):
        return
    marker = os.path.join(os.environ.get(MARKERS_ENV, "."), f"killed-{scope}")
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
