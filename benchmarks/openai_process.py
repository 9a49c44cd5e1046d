"""The OpenAI-protocol test server as a child process, for benchmarks whose client must not share a GIL
with it.

The server is a program (``python -m tests.support.openai_server``, run from the repository root); the
benchmarks start it, read the URL it prints, and talk to it over HTTP only: nothing from ``tests`` is
imported. With ``reply="module:function"`` (a module in ``benchmarks/``, e.g. ``augment_replies:reply``)
the same program runs with that reply function instead of the echo (the program's own option parsing,
its settings with ``reply`` set).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]

#: Runs the server's ``main`` with the reply function named in argv[1] (the rest is the server's argv).
_WITH_REPLY = (
    "import functools, importlib, sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from tests.support import openai_server as server\n"
    "module, _, name = sys.argv[2].partition(':')\n"
    "replies = importlib.import_module(module)\n"
    "getattr(replies, 'warm', lambda: None)()\n"
    "server.ServerSettings = functools.partial(server.ServerSettings, reply=getattr(replies, name))\n"
    "server.main(sys.argv[3:])\n"
)

#: Fault names the server's ``--persistent`` option takes (a fault that repeats on every retry).
SERVER_ERROR = "server_error"


class ServerProcess:
    """The server in a child process, echoing every prompt (or answering with ``reply``).

    Only the preset fault function is available, through ``fault_fraction`` and ``persistent``.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        concurrency: int | None = None,
        fault_fraction: float = 0.0,
        persistent: tuple[str, ...] = (),
        retry_after: float = 1.0,
        hang_s: float = 30.0,
        reply: str | None = None,
    ):
        self.args = ["--latency", str(latency), "--retry-after", str(retry_after), "--hang-s", str(hang_s)]
        self.args += ["--fault-fraction", str(fault_fraction)]
        if concurrency:
            self.args += ["--concurrency", str(concurrency)]
        if persistent:
            self.args += ["--persistent", ",".join(persistent)]
        self.reply = reply
        self.process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> Self:
        program = ["-m", "tests.support.openai_server"]
        if self.reply:
            program = ["-c", _WITH_REPLY, str(Path(__file__).resolve().parent), self.reply]
        self.process = subprocess.Popen(
            [sys.executable, *program, *self.args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("URL "):
            self.process.kill()
            raise RuntimeError(f"test server process did not start: {line!r}")
        self.url = line.split(" ", 1)[1]
        return self

    def _get(self, path: str) -> Any:
        root = self.url.rsplit("/v1", 1)[0]
        with urllib.request.urlopen(root + path, timeout=30) as response:
            return json.load(response)

    def stats(self) -> dict:
        """Requests served, distinct bodies, and faults injected by kind."""
        return self._get("/_stats")

    def log(self) -> list[dict]:
        return self._get("/_log")

    def reset(self) -> None:
        self._get("/_reset")

    def __exit__(self, *exc_info) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
