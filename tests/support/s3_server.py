"""A real S3-compatible server (moto in server mode) on 127.0.0.1 for tests that read or write s3:// URLs.

Usage::

    with S3Server() as server:
        server.create_bucket("releases")
        env = server.env()          # AWS_* variables that point s3fs/botocore at the server
        fs = server.filesystem()    # an s3fs filesystem on it

The server runs in its own process (``moto_server``) on a free port, so jobs started as subprocesses and
Ray workers reach it like any endpoint; it is stopped, with its whole process group, on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Self

_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _forget_filesystems() -> None:
    """Drops s3fs's cached filesystems: one made for an earlier server (its endpoint came from the
    environment, which is not part of the cache key) would be handed to the next test."""
    try:
        import s3fs
    except ImportError:
        return
    s3fs.S3FileSystem.clear_instance_cache()


class S3Server:
    """``moto_server`` on ``127.0.0.1:<free port>``; a context manager."""

    def __init__(self, start_timeout: float = 60.0):
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.start_timeout = start_timeout
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        _forget_filesystems()
        server = Path(sys.executable).parent / "moto_server"
        command = [str(server)] if server.exists() else [sys.executable, "-m", "moto.server"]
        self._process = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, **_CREDENTIALS},
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self._process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise TimeoutError("moto_server did not answer") from None
                time.sleep(0.2)

    def __exit__(self, *exc_info) -> None:
        _forget_filesystems()
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._process = None

    @contextlib.contextmanager
    def exported(self, **extra: str) -> Iterator[None]:
        """This process's environment points at the server (plus ``extra``) inside the block, then is restored."""
        values = {**self.env(), **extra}
        saved = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def env(self) -> dict[str, str]:
        """Environment variables that send botocore (and so s3fs) to this server."""
        return {**_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "AWS_ENDPOINT_URL_S3": self.endpoint}

    def filesystem(self):
        """A fresh (uncached) s3fs filesystem on this server."""
        import s3fs

        return s3fs.S3FileSystem(
            key=_CREDENTIALS["AWS_ACCESS_KEY_ID"], secret=_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            endpoint_url=self.endpoint, skip_instance_cache=True, use_listings_cache=False,
        )

    def create_bucket(self, name: str) -> None:
        self.filesystem().mkdir(name)
