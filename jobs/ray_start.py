"""Starting or joining Ray for a run, quietly: Ray's hints for Ray's developers stay off a user's terminal.

Ray prints three kinds of noise on a default run: Python warnings about its own API (deprecations,
actor-pool sizing hints), a line from its C++ core when the driver connects ("Set ray log level from
environment variable ..."), and progress bars. None of them is about the user's data or config; ``-v``
shows them all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import ray
import ray.data
from sftforge.jobs.config import RayConfig
from sftforge.jobs.progress import say

log = logging.getLogger("sftforge")

#: Seconds to wait for a configured Ray address to accept a connection.
CONNECT_TIMEOUT_S = 10.0


def silence_ray_warnings() -> None:
    """Ignores the Python warnings Ray raises about its own API for the rest of the process."""
    from ray.util.annotations import RayDeprecationWarning

    warnings.filterwarnings("ignore", category=RayDeprecationWarning)
    # Ray Data's hints (actor pool sizes, block counts) are issued from inside its own modules.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"ray(\.|$)")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")


@contextlib.contextmanager
def native_stderr_held() -> Iterator[None]:
    """Holds what native code writes to file descriptor 2 while the block runs.

    The held text is dropped when the block succeeds and written out when it raises, so a failing
    ``ray.init`` still shows everything Ray's core said.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class RayUnreachable(ConnectionError):
    """The configured Ray address does not accept connections (Ray itself would wait for minutes)."""


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fails in seconds when ``address`` (``host:port`` of a GCS) accepts no TCP connection.

    ``auto``, ``local`` and ``ray://`` addresses are left to Ray.

    Raises:
        RayUnreachable: Nothing listens there, or it does not answer within ``timeout_s``.
    """
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise RayUnreachable(f"no Ray cluster answers at {address} ({error}); check ray.address or "
                             f"RAY_ADDRESS") from None


def _children() -> dict[int, list[tuple[int, bytes]]]:
    """Every live process by parent pid: ``(pid, command line)``."""
    children: dict[int, list[tuple[int, bytes]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append((int(stat.parent.name), command))
    return children


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _stop_own_ray_processes() -> None:
    """SIGKILLs the Ray processes this process started (GCS, raylet...) and a failed ``ray.init`` left."""
    _kill([pid for pid, command in _children().get(os.getpid(), []) if b"/ray/" in command])


def started_here() -> bool:
    """Whether this process started the Ray it is connected to (``ray.init`` without an address)."""
    node = getattr(ray._private.worker, "_global_node", None)
    return ray.is_initialized() and node is not None and bool(getattr(node, "ray_init_cluster", False))


def exit_process(code: int) -> NoReturn:
    """Ends the process with ``code``; a Ray this process started is stopped all at once first.

    Ray's exit hook stops its processes one after another, giving each up to a second to exit (2-3 s
    after every run, a fifth of a small run's time). Everything a run writes is committed before this
    is called, so the processes this one started (Ray's, and any server a step started) are killed
    together and the interpreter ends without running the hook.
    """
    if not started_here():
        sys.exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    family, tree, frontier = _children(), [], [os.getpid()]
    while frontier:
        below = [pid for parent in frontier for pid, _ in family.get(parent, [])]
        tree += below
        frontier = below
    _kill(tree)
    os._exit(code)


#: Tries of a local Ray start (see ``init_ray``).
LOCAL_START_ATTEMPTS = 2


def init_ray(config: RayConfig) -> None:
    """Connects to the configured cluster, the submitting cluster (``RAY_ADDRESS``), or starts Ray locally.

    Ray Data's per-operator progress is logged only when the ``sftforge`` logger is at INFO (``-v``).
    """
    # A block that fails after its retries fails the run: never skipped (see jobs.runner TASK_RETRIES).
    ray.data.DataContext.get_current().max_errored_blocks = 0
    quiet_ray = not log.isEnabledFor(logging.INFO)
    if quiet_ray:
        # Ray's hints (progress bars, actor-constructor warnings) are for Ray's developers; -v shows them.
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        ray.data.DataContext.get_current().enable_progress_bars = False
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        silence_ray_warnings()
    if ray.is_initialized():
        return
    address = config.address or os.environ.get("RAY_ADDRESS")
    if address:
        check_reachable(address)
        with native_stderr_held() if quiet_ray else contextlib.nullcontext():
            ray.init(address=address, log_to_driver=True)
        return
    # "local" starts a fresh runtime even when a `ray start` cluster runs on this machine. Ray gives its
    # node a fixed 30 s to register; a busy machine can miss that once, so a timed-out start is retried.
    for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
        try:
            with native_stderr_held() if quiet_ray else contextlib.nullcontext():
                ray.init(
                    address="local",
                    num_cpus=config.num_cpus,
                    object_store_memory=config.object_store_memory,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.ERROR if quiet_ray else logging.INFO,
                )
            break
        except Exception as error:
            ray.shutdown()
            _stop_own_ray_processes()
            if attempt == LOCAL_START_ATTEMPTS or "timed out during startup" not in str(error):
                raise
            say("Ray's node did not register within its 30 s (a busy machine?); starting it again")
    say("Ray started (%s CPUs)", config.num_cpus or "all")


