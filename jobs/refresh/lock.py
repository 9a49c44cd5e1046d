"""One refresh per ``output.dir`` at a time.

A local folder is locked with ``flock`` on ``<dir>/.sftforge-refresh.lock`` (released when the process
dies). On an object store a lease object is written there with the run id and an expiry; a run refuses
while an unexpired lease of another run exists, and renews nothing (a night that outlives the lease is
expected to have failed).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time

from sftforge.jobs.refresh.releases import RefreshError, filesystem, join

LOCK_NAME = ".sftforge-refresh.lock"
LEASE_SECONDS = 24 * 3600


class RefreshLock:
    """Held from ``acquire`` to ``release``; refuses an overlapping refresh of the same ``output.dir``."""

    def __init__(self, root: str, run_id: str, lease_seconds: int = LEASE_SECONDS):
        self.root = root
        self.run_id = run_id
        self.lease_seconds = lease_seconds
        self.path = join(root, LOCK_NAME)
        self._fd: int | None = None
        self._lease = False

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
        fs, path = filesystem(self.path)
        if fs.exists(path):
            with fs.open(path, "rb") as handle:
                lease = json.loads(handle.read().decode("utf-8") or "{}")
            if lease.get("run_id") != self.run_id and float(lease.get("expires", 0)) > time.time():
                raise RefreshError(f"another refresh of {self.root} holds the lease (run {lease.get('run_id')}); "
                                   "refusing an overlapping run")
        with fs.open(path, "wb") as handle:
            handle.write(json.dumps({"run_id": self.run_id, "expires": time.time() + self.lease_seconds}).encode())
        self._lease = True
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lease:
            fs, path = filesystem(self.path)
            fs.rm(path)
            self._lease = False
