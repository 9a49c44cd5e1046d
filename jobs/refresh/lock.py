"""One refresh per ``output.dir`` at a time.

A local folder is locked with ``flock`` on ``<dir>/.sftforge-refresh.lock`` (released when the process
dies). On an object store there is no such lock: the run holds the lease object ``<dir>/.lock-refresh``
(``jobs.release.lease``: created with an exclusive write, renewed while the run lives, taken over once
its run is gone), so two drivers on different machines cannot refresh the same store at once.
"""

from __future__ import annotations

import errno
import fcntl
import os

from sftforge.jobs.refresh.releases import RefreshError, filesystem, join
from sftforge.jobs.release.lease import ReleaseLease, ReleaseLocked

LOCK_NAME = ".sftforge-refresh.lock"
#: The lease's name under ``output.dir`` is ``.lock-<LEASE_ID>`` (release ids of refreshes are dates).
LEASE_ID = "refresh"


class RefreshLock:
    """Held from ``acquire`` to ``release``; refuses an overlapping refresh of the same ``output.dir``."""

    def __init__(self, root: str, run_id: str, lease_seconds: float | None = None):
        self.root = root
        self.run_id = run_id
        self.lease_seconds = lease_seconds
        self.path = join(root, LOCK_NAME)
        self._fd: int | None = None
        self._lease: ReleaseLease | None = None

    def acquire(self) -> RefreshLock:
        if "://" not in self.root or self.root.startswith("file://"):
            local = self.path.removeprefix("file://")
            os.makedirs(os.path.dirname(local), exist_ok=True)
            fd = os.open(local, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise RefreshError(f"another refresh of {self.root} is running; refusing an overlapping run") from None
                raise
            self._fd = fd
            return self
        fs, root = filesystem(self.root)
        lease = ReleaseLease(fs, root, LEASE_ID, self.run_id, self.lease_seconds)
        try:
            lease.acquire()
        except ReleaseLocked as exc:
            raise RefreshError(f"another refresh of {self.root} holds its lease; refusing an overlapping run "
                               f"({exc})") from None
        self._lease = lease
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None
