"""A lock object with a lease: one run per release id at a time, on any filesystem or object store.

The lock is the object ``<output.dir>/.lock-<release>``, created with an exclusive write (``If-None-Match:
*`` on S3, ``O_EXCL`` locally), holding the run's token, host, pid and the time its lease ends. The run
renews the lease from a background thread; a lock whose lease has ended, or whose process is gone from
this same host, belongs to a dead run and is taken over. Unlike an ``flock``, this works where the
writers are on different machines and the storage is an object store.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime

log = logging.getLogger("sftforge.release")

LOCK_PREFIX = ".lock-"
#: Seconds a lease lasts without renewal; ``SFTFORGE_RELEASE_LEASE_S`` overrides it.
DEFAULT_LEASE_S = 300.0


class ReleaseLocked(Exception):
    """Another live run holds the release's lock."""


def lease_seconds() -> float:
    return float(os.environ.get("SFTFORGE_RELEASE_LEASE_S", DEFAULT_LEASE_S))


class ReleaseLease:
    """The lock of one release id under ``root`` on ``fs``.

    Args:
        fs: An fsspec filesystem.
        root: ``output.dir`` as a path of ``fs``.
        release_id: The release being written.
        token: This run's token (also the suffix of its staging folder).
        lease_s: Lease length; renewed every third of it.
    """

    def __init__(self, fs, root: str, release_id: str, token: str, lease_s: float | None = None):
        self.fs = fs
        self.path = f"{root.rstrip('/')}/{LOCK_PREFIX}{release_id}"
        self.release_id = release_id
        self.token = token
        self.lease_s = lease_s or lease_seconds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        return json.dumps(
            {"token": self.token, "host": socket.gethostname(), "pid": os.getpid(),
             "expires": time.time() + self.lease_s}
        ).encode()

    def acquire(self) -> None:
        """Creates the lock or takes over a dead run's; starts renewing it.

        Raises:
            ReleaseLocked: A live run holds it; the message names the run and when its lease ends.
        """
        for _attempt in range(3):
            try:
                self.fs.pipe_file(self.path, self._body(), mode="create")
                break
            except FileExistsError:
                holder = self._read()
                if holder is not None and not _is_dead(holder):
                    ends = datetime.fromtimestamp(holder["expires"], UTC).isoformat(timespec="seconds")
                    raise ReleaseLocked(
                        f"release {self.release_id} is being written by another run (pid {holder.get('pid')} "
                        f"on {holder.get('host')}, lease until {ends}); wait for it or use another release id"
                    ) from None
                log.warning("release %s: taking over the lock of a run that is gone", self.release_id)
                self._remove()
        else:
            raise ReleaseLocked(f"release {self.release_id}: could not take its lock")
        self._thread = threading.Thread(target=self._renew, name="sftforge-release-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stops renewing and removes the lock if it is still this run's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        holder = self._read()
        if holder is not None and holder.get("token") == self.token:
            self._remove()

    def holds(self) -> bool:
        holder = self._read()
        return holder is not None and holder.get("token") == self.token

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                if not self.holds():
                    log.error("release %s: the lock was taken over by another run", self.release_id)
                    return
                self.fs.pipe_file(self.path, self._body())
            except OSError as exc:  # a transient store error; the next renewal tries again
                log.warning("release %s: could not renew the lock: %s", self.release_id, exc)

    def _read(self) -> dict | None:
        try:
            return json.loads(self.fs.cat_file(self.path))
        except FileNotFoundError:
            return None
        except ValueError:
            return {"expires": 0}  # unreadable: a half-written lock of a dead run

    def _remove(self) -> None:
        try:
            self.fs.rm_file(self.path)
        except FileNotFoundError:
            pass


def remove_dead_locks(fs, root: str) -> list[str]:
    """Deletes the lock objects under ``root`` whose runs are gone (any release id)."""
    removed = []
    try:
        entries = fs.ls(root, detail=False)
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.rstrip("/").rsplit("/", 1)[-1].startswith(LOCK_PREFIX):
            continue
        try:
            holder = json.loads(fs.cat_file(entry))
        except FileNotFoundError:
            continue
        except ValueError:
            holder = {"expires": 0}
        if _is_dead(holder):
            try:
                fs.rm_file(entry)
            except FileNotFoundError:
                continue
            removed.append(entry)
    return removed


def _is_dead(holder: dict) -> bool:
    if holder.get("expires", 0) < time.time():
        return True
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False
