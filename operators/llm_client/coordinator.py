"""The run's coordinator: cluster-wide rate limits, the hard budget and the ledger, in one place.

Per-process limits are not limits: ten workers each allowed 100 requests a minute send 1000. So every
engine of a run asks one coordinator before each request. With Ray, the coordinator is a named actor
that ``LLMService`` starts; without Ray (tests, a single process) it is a plain object in the process.

Rate limits are token buckets with reservations: a request takes its cost from the bucket at once, the
level may go below zero, and the request waits until the level it left behind is paid back. The waits
therefore queue up fairly across workers, and over any window of ``w`` seconds at most
``capacity + rate * w`` requests (tokens) go out. A 429 with ``Retry-After`` pauses everyone.

The budget reserves each request's worst case (prompt estimate + ``max_tokens``) before it is sent and
settles to the real usage afterwards, so the ceiling is never crossed; once a request does not fit, the
budget is closed and every later request is refused, so a run stops cleanly rather than trickling.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sftforge.operators.llm_client.config import Budget, LLMConfig, Price, RateLimits

#: Counters every engine books per stage; ``dead_letters`` is booked per reason as ``dead_letter.<reason>``.
LEDGER_COUNTERS = (
    "calls",
    "answered",
    "dead_lettered",
    "requests",
    "retries",
    "repairs",
    "cache_hits",
    "cache_misses",
    "prompt_tokens",
    "completion_tokens",
)


class TokenBucket:
    """A bucket refilled at ``rate`` per second up to ``capacity``; takes may overdraw it."""

    def __init__(self, rate: float, capacity: float, now: float):
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self.updated = now

    def take(self, cost: float, now: float) -> float:
        """Takes ``cost`` and returns the seconds to wait before using it."""
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        self.level -= cost
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def give_back(self, amount: float) -> None:
        """Returns an over-estimated part of a take (never above capacity)."""
        self.level = min(self.capacity, self.level + amount)


@dataclass(frozen=True)
class Admission:
    """The coordinator's answer to a request: send at ``not_before``, or do not send at all.

    ``not_before`` is on the coordinator's clock (wall-clock time by default, which every host of a
    cluster shares through NTP), so that how long the answer takes to reach a worker does not shift
    when the request goes out.
    """

    allowed: bool
    wait_s: float = 0.0
    ticket: int = 0
    not_before: float = 0.0


class Coordinator:
    """Rate limits, budget and ledger for one run. Thread-safe; also runs as a Ray actor.

    Args:
        limits: Cluster-wide request and token rates.
        budget: Hard ceiling on tokens or cost.
        price: Price of the model, for costs.
        clock: Seconds on a clock every worker shares (``time.time``; tests pass a fake one).
    """

    def __init__(
        self,
        limits: RateLimits | None = None,
        budget: Budget | None = None,
        price: Price | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.limits = limits or RateLimits()
        self.budget = budget or Budget()
        self.price = price or Price()
        self.clock = clock
        now = clock()
        self.requests = self._bucket(self.limits.requests_per_minute, now)
        self.tokens = self._bucket(self.limits.tokens_per_minute, now)
        self.paused_until = 0.0
        self.reserved_tokens = 0
        self.reserved_cost = 0.0
        self.spent_tokens = 0
        self.spent_cost = 0.0
        self.budget_closed = False
        self.refused = 0
        self.pauses = 0
        self._tickets: dict[int, tuple[int, float]] = {}
        self._next_ticket = 1
        self._ledger: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._lock = threading.Lock()

    def _bucket(self, per_minute: float | None, now: float) -> TokenBucket | None:
        if per_minute is None:
            return None
        rate = per_minute / 60.0
        return TokenBucket(rate, max(1.0, rate * self.limits.burst_s), now)

    def cost_of(self, prompt_tokens: float, completion_tokens: float) -> float:
        """Cost of a number of tokens at the configured price."""
        return (
            prompt_tokens * self.price.prompt_per_million + completion_tokens * self.price.completion_per_million
        ) / 1e6

    def admit(self, prompt_estimate: int, max_completion: int) -> Admission:
        """Reserves budget and rate for one request.

        Returns:
            ``allowed=False`` when the budget cannot cover the request's worst case (the budget closes);
            otherwise the seconds to wait before sending and a ticket for ``settle``.
        """
        with self._lock:
            now = self.clock()
            worst_tokens = prompt_estimate + max_completion
            worst_cost = self.cost_of(prompt_estimate, max_completion)
            if self.budget.enabled:
                over_tokens = (
                    self.budget.max_tokens is not None
                    and self.spent_tokens + self.reserved_tokens + worst_tokens > self.budget.max_tokens
                )
                over_cost = (
                    self.budget.max_cost is not None
                    and self.spent_cost + self.reserved_cost + worst_cost > self.budget.max_cost + 1e-12
                )
                if self.budget_closed or over_tokens or over_cost:
                    self.budget_closed = True
                    self.refused += 1
                    return Admission(allowed=False)
            ticket = self._next_ticket
            self._next_ticket += 1
            self._tickets[ticket] = (worst_tokens, worst_cost)
            self.reserved_tokens += worst_tokens
            self.reserved_cost += worst_cost
            wait = max(0.0, self.paused_until - now)
            if self.requests is not None:
                wait = max(wait, self.requests.take(1, now))
            if self.tokens is not None:
                wait = max(wait, self.tokens.take(worst_tokens, now))
            return Admission(allowed=True, wait_s=wait, ticket=ticket, not_before=now + wait)

    def settle(self, ticket: int, prompt_tokens: int, completion_tokens: int) -> None:
        """Replaces a request's reservation by its real usage (zeros when the request was not billed)."""
        with self._lock:
            reserved = self._tickets.pop(ticket, None)
            if reserved is None:
                return
            worst_tokens, worst_cost = reserved
            self.reserved_tokens -= worst_tokens
            self.reserved_cost -= worst_cost
            used = prompt_tokens + completion_tokens
            self.spent_tokens += used
            self.spent_cost += self.cost_of(prompt_tokens, completion_tokens)
            if self.tokens is not None and used < worst_tokens:
                self.tokens.give_back(worst_tokens - used)

    def pause(self, seconds: float) -> None:
        """Holds every request, cluster-wide, for ``seconds`` (a 429's ``Retry-After``)."""
        with self._lock:
            until = self.clock() + seconds
            if until > self.paused_until:
                self.paused_until = until
                self.pauses += 1

    def record(self, stage: str, counts: dict[str, float]) -> None:
        """Adds an engine's ledger counts (since its last flush) to ``stage``."""
        with self._lock:
            bucket = self._ledger[stage]
            for name, value in counts.items():
                bucket[name] += value

    def snapshot(self) -> dict[str, Any]:
        """The ledger per stage and in total, with costs, cache counts and the budget's state."""
        with self._lock:
            stages = {}
            total: dict[str, float] = defaultdict(float)
            for stage, counts in sorted(self._ledger.items()):
                entry = {name: _number(value) for name, value in sorted(counts.items())}
                entry["cost"] = round(
                    self.cost_of(counts.get("prompt_tokens", 0), counts.get("completion_tokens", 0)), 10
                )
                stages[stage] = entry
                for name, value in counts.items():
                    total[name] += value
            total_entry = {name: _number(value) for name, value in sorted(total.items())}
            total_entry["cost"] = round(
                self.cost_of(total.get("prompt_tokens", 0), total.get("completion_tokens", 0)), 10
            )
            return {
                "stages": stages,
                "total": total_entry,
                "budget": {
                    "max_tokens": self.budget.max_tokens,
                    "max_cost": self.budget.max_cost,
                    "spent_tokens": self.spent_tokens,
                    "spent_cost": round(self.spent_cost, 10),
                    "exhausted": self.budget_closed,
                    "refused_requests": self.refused,
                },
                "rate_limit_pauses": self.pauses,
            }


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def coordinator_for(config: LLMConfig) -> Coordinator:
    """A coordinator built from ``config``'s limits, budget and price."""
    return Coordinator(config.limits, config.budget, config.price())


# Coordinators of runs in this process, by name, for runs without Ray (and for the driver's own use).
_LOCAL: dict[str, Coordinator] = {}
_LOCAL_LOCK = threading.Lock()


def register_local(name: str, coordinator: Coordinator) -> None:
    with _LOCAL_LOCK:
        _LOCAL[name] = coordinator


def unregister_local(name: str) -> None:
    with _LOCAL_LOCK:
        _LOCAL.pop(name, None)


def start_actor(name: str, config: LLMConfig):
    """Starts (or joins) the named coordinator actor of a run; returns its handle."""
    import ray

    actor_class = ray.remote(num_cpus=0, max_restarts=0)(Coordinator)
    return actor_class.options(name=name, get_if_exists=True).remote(
        config.limits, config.budget, config.price()
    )


class CoordinatorClient:
    """What an engine talks to: the named actor when Ray runs it, else an in-process coordinator.

    Awaitable methods, so that an engine's event loop never blocks on the actor.
    """

    def __init__(self, config: LLMConfig):
        self.actor = None
        self.local: Coordinator | None = None
        name = config.coordinator
        if name:
            with _LOCAL_LOCK:
                self.local = _LOCAL.get(name)
            if self.local is None:
                self.actor = _find_actor(name)
            if self.local is None and self.actor is None:
                raise RuntimeError(
                    f"LLM coordinator '{name}' is not running; engines of a run must be used inside its "
                    "LLMService"
                )
        else:
            self.local = coordinator_for(config)

    @property
    def shared(self) -> bool:
        return self.actor is not None

    async def admit(self, prompt_estimate: int, max_completion: int) -> Admission:
        if self.actor is not None:
            return await self.actor.admit.remote(prompt_estimate, max_completion)
        return self.local.admit(prompt_estimate, max_completion)

    async def settle(self, ticket: int, prompt_tokens: int, completion_tokens: int) -> None:
        if self.actor is not None:
            await self.actor.settle.remote(ticket, prompt_tokens, completion_tokens)
        else:
            self.local.settle(ticket, prompt_tokens, completion_tokens)

    async def pause(self, seconds: float) -> None:
        if self.actor is not None:
            await self.actor.pause.remote(seconds)
        else:
            self.local.pause(seconds)

    def record(self, stage: str, counts: dict[str, float]) -> None:
        if self.actor is not None:
            import ray

            ray.get(self.actor.record.remote(stage, counts))
        else:
            self.local.record(stage, counts)

    def snapshot(self) -> dict[str, Any]:
        if self.actor is not None:
            import ray

            return ray.get(self.actor.snapshot.remote())
        return self.local.snapshot()


def _find_actor(name: str):
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a core dependency
        return None
    if not ray.is_initialized():
        return None
    try:
        return ray.get_actor(name)
    except ValueError:
        return None


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """A tokenizer-free upper-leaning estimate: 4 characters a token, one a CJK character, 4 per message."""
    total = 0
    for message in messages:
        content = message.get("content") or ""
        cjk = 0 if content.isascii() else sum(
            1 for char in content if "\u3040" <= char <= "\u9fff" or "\uac00" <= char <= "\ud7af")
        total += 4 + cjk + math.ceil((len(content) - cjk) / 4)
    return total
