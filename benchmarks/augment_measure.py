"""What the augmentation benchmarks measure besides throughput: the driver's RSS against progress, CPU
seconds of the run's processes by role, and the time the driver spends in the novelty filter."""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import threading
import time
from collections.abc import Callable


def rss_mib(kind: str = "VmRSS") -> float:
    """The driver's resident set size now, in MiB: all of it (``VmRSS``), or one part: ``RssAnon`` (its
    private memory), ``RssShmem`` (shared memory it has touched: with Ray, the object store's pages of
    the blocks it read) or ``RssFile`` (mapped files: code and libraries)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(f"{kind}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_parts() -> tuple[float, float, float]:
    """``(VmRSS, RssAnon, RssShmem)`` now, in MiB."""
    return rss_mib(), rss_mib("RssAnon"), rss_mib("RssShmem")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ProgressSampler:
    """A thread that records ``(seconds, progress, rss MiB, private MiB, object-store MiB)`` every
    ``every`` seconds while a run goes (``rss_parts``).

    ``progress()`` returns the share done (0..1) or a count; ``at(share)`` is the first sample at or past
    that share.
    """

    def __init__(self, progress: Callable[[], float], every: float = 1.0):
        self.progress, self.every = progress, every
        self.samples: list[tuple[float, float, float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.perf_counter()

    def _sample(self) -> None:
        with contextlib.suppress(Exception):
            self.samples.append((time.perf_counter() - self.started, float(self.progress()), *rss_parts()))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self):
        self.started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def at(self, share: float) -> tuple[float, float, float] | None:
        total = self.samples[-1][1] if self.samples else 0.0
        return next((s for s in self.samples if total and s[1] >= share * total), None)

    def rss_line(self) -> str:
        """RSS at 10/50/100% of progress, and its private and object-store parts: the driver's own
        memory is the private part; the object-store pages it read are Ray's (bounded by the store)."""
        parts = []
        for share in (0.1, 0.5, 1.0):
            sample = self.at(share)
            parts.append(f"{share:.0%}: {sample[2]:,.0f} MiB (private {sample[3]:,.1f}, object store "
                         f"{sample[4]:,.1f})" if sample else f"{share:.0%}: -")
        return "driver RSS at " + ", ".join(parts)


class ProcessCpu:
    """CPU seconds of this process's descendants by role (the test server, the augment actors, the rest
    of Ray), read from ``/proc``; ``poll`` keeps the largest value seen per process, so processes that
    exit before the end still count."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, server_pid: int, actor_marker: str = "AugmentRows", min_interval_s: float = 2.0):
        self.server_pid, self.marker, self.seen = server_pid, actor_marker, {}
        self.min_interval_s, self._polled = min_interval_s, float("-inf")

    def poll(self, force: bool = False) -> None:
        """Reads the CPU time of this process's descendants (unless ``force``, at most every
        ``min_interval_s``: on a busy host the walk itself costs the driver CPU)."""
        now = time.monotonic()
        if not force and now - self._polled < self.min_interval_s:
            return
        self._polled = now
        for pid in self._descendants():
            with contextlib.suppress(OSError, IndexError, ValueError):
                with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                seconds = (int(fields[11]) + int(fields[12])) / self.TICK
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    name = handle.read(300).decode(errors="replace")
                # Ray starts its workers at nice 15: on a shared host the augment actors would get a sliver
                # of the CPU next to other users' processes (the driver and the server run at 0), and the
                # figure would measure the niceness. The benchmark's own processes all run at 0.
                if os.getpriority(os.PRIO_PROCESS, pid) > 0:
                    os.setpriority(os.PRIO_PROCESS, pid, 0)
                role = "server" if pid == self.server_pid else "actors" if self.marker in name else "ray other"
                before, seen = self.seen.get(pid, ("", 0.0))
                if before == "actors":  # an actor's title changes as it is stopped: it stays an actor
                    role = before
                self.seen[pid] = (role, max(seconds, seen))

    def _descendants(self) -> set[int]:
        """This process's descendants, a few generations down (driver -> raylet -> workers), from the
        kernel's per-thread children lists (else from every process's parent)."""
        found, frontier = set(), [os.getpid()]
        for _ in range(6):
            children = []
            for pid in frontier:
                with contextlib.suppress(OSError):
                    for task in os.listdir(f"/proc/{pid}/task"):
                        with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                            children += [int(child) for child in handle.read().split()]
            frontier = [child for child in children if child not in found]
            found.update(frontier)
        return found

    def by_role(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for role, seconds in self.seen.values():
            totals[role] = totals.get(role, 0.0) + seconds
        return totals


class FilterTimer:
    """Wall time the driver spends inside the novelty filter (``NoveltyIndex`` and, when it exists,
    the actor-backed ``LanguagePool``): their public methods wrapped, nested calls counted once."""

    METHODS = ("add", "extend", "check", "add_if_novel", "pool_verdicts", "filter_round")

    def __init__(self):
        self.seconds, self.cpu, self.calls, self._depth, self._saved = 0.0, 0.0, 0, 0, []

    def _wrap(self, cls, name):
        original = cls.__dict__[name]

        @functools.wraps(original)
        def timed(*args, **kwargs):
            self._depth += 1
            started, cpu = time.perf_counter(), time.thread_time()  # the filter runs on the calling thread
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - started
                    self.cpu += time.thread_time() - cpu
                    self.calls += 1

        self._saved.append((cls, name, original))
        setattr(cls, name, timed)

    def __enter__(self):
        from sftforge.operators.augment import novelty

        classes = [novelty.NoveltyIndex]
        with contextlib.suppress(ImportError, AttributeError):
            from sftforge.jobs.augment import novelty_actors

            classes.append(novelty_actors.LanguagePool)
        for cls in classes:
            for name in self.METHODS:
                if name in cls.__dict__:
                    self._wrap(cls, name)
        return self

    def __exit__(self, *exc_info) -> None:
        for cls, name, original in reversed(self._saved):
            setattr(cls, name, original)
