"""Progress a person can read: sftforge's own lines on stderr, and a live line for LLM stages.

A default run prints what it is doing from the start (config valid, Ray started, each step, the release)
rather than Ray's internal hints; ``-v`` adds Ray's own logs. The lines go through the ``sftforge.progress``
logger at WARNING, so ``-q`` (ERROR) silences them and tests can capture them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

log = logging.getLogger("sftforge.progress")

#: Seconds between two live lines of the LLM ledger (printed only when something changed).
LIVE_EVERY_S = 10.0


def say(message: str, *args: Any) -> None:
    """One progress line (``sftforge: ...``) unless the run is quiet."""
    if not log.isEnabledFor(logging.WARNING):
        return
    text = message % args if args else message
    print(f"sftforge: {text}", file=sys.stderr, flush=True)


def rate(rows: int, seconds: float) -> str:
    """``1,234 rows in 3.2 s (385 rows/s)``."""
    speed = f" ({rows / seconds:,.0f} rows/s)" if seconds > 0 else ""
    return f"{rows:,} rows in {seconds:.1f} s{speed}"


def ledger_line(total: dict[str, Any], seconds: float, expected: dict[str, tuple[int, int]] | None = None) -> str:
    """``LLM: judge 12/25 calls; 12 calls done (10 answered, 2 failed), ..., 1,234 tokens/s, 3 cache hits``.

    Args:
        total: The ledger's totals.
        seconds: Seconds since the LLM stages started (for tokens/s).
        expected: Per stage whose number of calls is known: (calls done, calls planned).
    """
    calls = int(total.get("calls", 0))
    answered = int(total.get("answered", 0))
    failed = int(total.get("dead_lettered", 0))
    tokens = int(total.get("prompt_tokens", 0)) + int(total.get("completion_tokens", 0))
    speed = tokens / seconds if seconds > 0 else 0.0
    planned = "".join(f"{stage} {done:,}/{of:,} calls; " for stage, (done, of) in (expected or {}).items())
    return (f"LLM: {planned}{calls:,} calls done ({answered:,} answered, {failed:,} failed), "
            f"{int(total.get('requests', 0)):,} requests, {int(total.get('retries', 0)):,} retries, "
            f"{speed:,.0f} tokens/s, {int(total.get('cache_hits', 0)):,} cache hits")


class LLMProgress:
    """Prints the run's LLM ledger every ``every_s`` seconds while it changes (a daemon thread).

    Args:
        snapshot: Returns the ledger (``LLMService._snapshot``-shaped: ``{"total": {...}}``).
        every_s: Seconds between lines.
    """

    def __init__(self, snapshot, every_s: float = LIVE_EVERY_S):
        self.snapshot = snapshot
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = time.monotonic()
        self._last: dict[str, Any] | None = None
        self._expected: dict[str, int] = {}

    def expect(self, stage: str, calls: int) -> None:
        """Shows ``stage done/calls`` in the line from now on (a stage whose number of calls is known)."""
        self._expected[stage] = calls

    def start(self) -> LLMProgress:
        self._thread = threading.Thread(target=self._run, name="sftforge-llm-progress", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.tick()

    def tick(self) -> None:
        try:
            snapshot = self.snapshot()
        except Exception:  # noqa: BLE001 - the coordinator may be gone at the end of a run; progress is best effort
            return
        total = dict(snapshot.get("total") or {})
        stages = snapshot.get("stages") or {}
        expected = {stage: (int((stages.get(stage) or {}).get("calls", 0)), calls)
                    for stage, calls in self._expected.items()}
        if total.get("calls") and total != self._last:
            self._last = total
            say(ledger_line(total, time.monotonic() - self._start, expected))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
