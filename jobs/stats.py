"""Run-wide row counters kept in a named Ray actor, so that accounting does not trust the data itself.

Every batch a stage processes reports how many rows came in, went on and were rejected; the reader
reports rows read per file. At the end of a run the driver compares these counts with the rows actually
written (see ``jobs.pipeline``).
"""

from __future__ import annotations

from collections import defaultdict


class RunStats:
    """Sums counters per (scope, name). Runs as a Ray actor; plain class for tests."""

    def __init__(self) -> None:
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, scope: str, counts: dict[str, int]) -> None:
        bucket = self._counts[scope]
        for name, value in counts.items():
            bucket[name] += int(value)

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {scope: dict(values) for scope, values in self._counts.items()}


def start_stats_actor(run_id: str):
    """Starts the named counters actor for one run and returns its handle."""
    import ray

    actor_class = ray.remote(num_cpus=0)(RunStats)
    name = f"sftforge-stats-{run_id}"
    handle = actor_class.options(name=name).remote()
    return handle, name


_handles: dict[str, object] = {}


def record(scope: str, counts: dict[str, int], actor_name: str | None) -> None:
    """Adds counts to the run's actor; a no-op when no run is collecting (unit tests, ad-hoc use).

    The call waits for the actor so that a batch's counts are in before the batch is handed on.
    """
    if not actor_name:
        return
    import ray

    handle = _handles.get(actor_name)
    if handle is None:
        handle = _handles[actor_name] = ray.get_actor(actor_name)
    ray.get(handle.add.remote(scope, counts))
