"""Staging folders, their locks, and the filesystem steps that publish a release atomically.

A run owns ``<root>/.staging-<release>-<uuid>/`` while it holds an ``flock`` on the sibling file
``.staging-<release>-<uuid>.lock``; the lock dies with the process, so a folder whose lock nobody holds
belongs to a run that was killed and can be removed. Publishing swaps the staging folder with the old
release in one ``renameat2(RENAME_EXCHANGE)`` where Linux offers it, else renames the old release aside
(``.replaced-<release>-<uuid>``) and the new one in; a killed swap is repaired by the next run.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import platform
import shutil
import uuid
from pathlib import Path

log = logging.getLogger("sftforge.release")

STAGING_PREFIX = ".staging-"
REPLACED_PREFIX = ".replaced-"
LOCK_SUFFIX = ".lock"
LATEST_TMP_PREFIX = ".LATEST-"
_UUID_HEX = 32


def remove_stale_staging(root: str | os.PathLike) -> list[Path]:
    """Removes what killed runs left in ``root``; returns what it removed or restored.

    A staging folder whose lock no live process holds is deleted. A release that a killed run had moved
    aside (``.replaced-<release>-<uuid>``) is put back when its id has no release folder, else deleted.
    """
    root = Path(root)
    touched = []
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        name = entry.name
        if name.startswith(STAGING_PREFIX):
            token = name[len(STAGING_PREFIX) :].removesuffix(LOCK_SUFFIX)
        elif name.startswith(REPLACED_PREFIX):
            token = name[len(REPLACED_PREFIX) :]
        elif name.startswith(LATEST_TMP_PREFIX):
            token = name[len(LATEST_TMP_PREFIX) :]
        else:
            continue
        lock_path = root / f"{STAGING_PREFIX}{token}{LOCK_SUFFIX}"
        if lock_is_held(lock_path):
            continue
        if name.startswith(REPLACED_PREFIX) and entry.is_dir():
            release = root / token[: -(_UUID_HEX + 1)]
            if not release.exists() and len(token) > _UUID_HEX + 1:
                os.rename(entry, release)
                log.warning("restored release %s that an interrupted publish had moved aside", release.name)
                touched.append(release)
                continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        touched.append(entry)
    return touched


def take_staging_lock(root: Path, release_id: str) -> tuple[str, Path, int]:
    """Creates and locks ``.staging-<release>-<uuid>.lock``; returns the token, the path and the fd."""
    while True:
        token = f"{release_id}-{uuid.uuid4().hex}"
        path = root / f"{STAGING_PREFIX}{token}{LOCK_SUFFIX}"
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return token, path, fd
        except FileNotFoundError:
            pass
        # Another run's cleanup removed the file between its creation and our lock: take a new one.
        os.close(fd)


def lock_is_held(lock_path: Path) -> bool:
    """Whether a live process holds the lock file (a missing file is not held)."""
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    finally:
        os.close(fd)
    return False


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange_paths(first: Path, second: Path) -> bool:
    """Atomically swaps two paths with Linux ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    if platform.system() != "Linux":
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, f"cannot swap {first} and {second}: {os.strerror(code)}")


def write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
