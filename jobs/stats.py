"""Run-wide row counters kept in a named Ray actor, keyed by the identity of the work that produced them.

Ray retries a task whose worker died, restarts a killed actor and re-executes a lost block: the same
work then reports twice. So a report carries a key naming the work (a read unit, a batch's rows) and
the actor *sets* the counts under that key instead of adding them; a retry overwrites its first try.
Reports without a key are summed (a driver-side count made once per run, such as ``augment``).

The counters are a second opinion: the end-of-run accounting (``jobs.accounting``) takes the per-stage
figures from the data itself (every row carries its outcome to the writer) and needs only the rows
read, counted here per read unit, to catch rows that went missing.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict

from sftforge.jobs.faults import maybe_die

_unkeyed = itertools.count()


class RunStats:
    """Counters per (scope, key, name); a snapshot sums the keys. Runs as a Ray actor; plain class for tests."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)

    def add(self, scope: str, counts: dict[str, int], key: str | None = None) -> None:
        """Records ``counts`` under ``key`` (replacing an earlier report of the same key), or adds them."""
        if key is None:
            key = f"#unkeyed-{next(_unkeyed)}"
        self._entries[scope][key] = {name: int(value) for name, value in counts.items()}

    def snapshot(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for scope, entries in self._entries.items():
            totals: dict[str, int] = defaultdict(int)
            for counts in entries.values():
                for name, value in counts.items():
                    totals[name] += value
            result[scope] = dict(totals)
        return result


def start_stats_actor(run_id: str):
    """Starts the named counters actor for one run and returns its handle.

    ``max_restarts=0``: a restarted counters actor would come back empty, so its loss must fail the run
    (the accounting then has nothing to trust) rather than pass with half the counts.
    """
    import ray

    actor_class = ray.remote(num_cpus=0, max_restarts=0)(RunStats)
    name = f"sftforge-stats-{run_id}"
    handle = actor_class.options(name=name).remote()
    return handle, name


def work_key(*parts: object) -> str:
    """A short stable key for a piece of work from the values that identify it."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(repr(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


_handles: dict[str, object] = {}


def record(scope: str, counts: dict[str, int], actor_name: str | None, key: str | None = None) -> None:
    """Reports counts to the run's actor; a no-op when no run is collecting (unit tests, ad-hoc use).

    Args:
        scope: Counter scope (a stage name, ``read``, ``read_files``).
        counts: Values to record.
        actor_name: The run's counters actor.
        key: Identity of the work counted (see ``work_key``): a second report with the same key replaces
            the first, so a retried task or restarted actor never counts twice. Without it, counts add.

    The call waits for the actor so that a batch's counts are in before the batch is handed on.
    """
    if not actor_name:
        return
    maybe_die(scope)
    import ray

    handle = _handles.get(actor_name)
    if handle is None:
        handle = _handles[actor_name] = ray.get_actor(actor_name)
    ray.get(handle.add.remote(scope, counts, key))
