"""Runs a Python module that stops when the process that started it dies.

    python -m sftforge.operators.llm_client.orphan_guard PARENT_PID MODULE [ARG ...]

A driver that is SIGKILLed (OOM killer, a cancelled job, ``kill -9``) runs no clean-up, so a server it
started would live on and hold its port, memory and CPU until someone notices. The guard runs
``MODULE`` as ``__main__`` in this same process and watches the parent: once this process is
re-parented, it sends itself SIGTERM (the server's own graceful stop), and exits outright if that
has not worked within ``GRACE_S``. This module imports nothing of sftforge, so the guard costs no
start-up time.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time

#: Seconds between checks of the parent.
POLL_S = 0.5
#: Seconds the module gets to stop after SIGTERM before the process exits regardless.
GRACE_S = 10.0


def watch_parent(parent: int, poll_s: float = POLL_S, grace_s: float = GRACE_S) -> threading.Thread:
    """Starts a daemon thread that stops this process once ``parent`` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os._exit(1)

    thread = threading.Thread(target=watch, name="orphan-guard", daemon=True)
    thread.start()
    return thread


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.exit("usage: python -m sftforge.operators.llm_client.orphan_guard PARENT_PID MODULE [ARG ...]")
    parent, module, arguments = int(argv[0]), argv[1], argv[2:]
    if os.getppid() != parent:  # the parent died before the guard started
        sys.exit(f"parent process {parent} is gone")
    watch_parent(parent)
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
