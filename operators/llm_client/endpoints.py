"""Which endpoint a request goes to: healthy ones in turn, failing ones taken out behind a circuit breaker.

``llm.base_url`` may list several OpenAI-compatible endpoints serving the same model. Each engine keeps
one ``EndpointPool``: requests go round-robin to the endpoints whose circuit is closed. After
``circuit.failures`` consecutive connection errors, timeouts or 5xx, an endpoint's circuit opens: no
request goes to it until, after a cool-down (doubling on each failed probe), one request probes it; a
probe that is answered closes the circuit again.

While every endpoint is open, calls wait for a probe, but not for ever: once they have all been open for
``circuit.give_up_s``, the endpoints count as down and calls fail at once with ``connection_error``
(probes carry on, so an endpoint that comes back is used again). The engine thus never spends its whole
retry budget, call after call, on a server known to be dead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sftforge.operators.llm_client.config import CircuitPolicy
from sftforge.operators.llm_client.request import CONNECTION_ERROR, SERVER_ERROR, TIMEOUT
from sftforge.operators.llm_client.transport import CallFailed

#: Failures that count towards opening a circuit: the endpoint did not answer, or answered 5xx.
BREAKING_REASONS = frozenset({CONNECTION_ERROR, TIMEOUT, SERVER_ERROR})

#: How often a call waiting for a probe looks again.
_POLL_S = 0.1


@dataclass
class Endpoint:
    """One endpoint and its circuit.

    Attributes:
        base_url: The endpoint's base URL (``http://host:port/v1``).
        url: Its chat-completions URL.
        failures: Consecutive breaking failures.
        open_since: When the circuit opened (None: closed).
        retry_at: When the next probe may go out (open circuits).
        cooldown_s: The current cool-down before a probe.
        probing: A probe is in flight.
        last_failure: The last failure's detail, for the message once the endpoint counts as down.
    """

    base_url: str
    url: str = ""
    failures: int = 0
    open_since: float | None = None
    retry_at: float = 0.0
    cooldown_s: float = 0.0
    probing: bool = False
    last_failure: str = ""
    last_reason: str = CONNECTION_ERROR
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.url = self.url or self.base_url.rstrip("/") + "/chat/completions"

    @property
    def closed(self) -> bool:
        return self.open_since is None


class EndpointPool:
    """The endpoints of one engine, with their circuits. Used from the engine's event loop only.

    Args:
        base_urls: The endpoints, in the configured order.
        policy: When circuits open and how they are probed.
        clock: Monotonic seconds (tests pass a fake one).
        on_event: Called with ``(endpoint, event)`` for ledger events: ``opened``, ``closed``.
    """

    def __init__(
        self,
        base_urls: Sequence[str],
        policy: CircuitPolicy,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[Endpoint, str], None] | None = None,
    ):
        if not base_urls:
            raise ValueError("an endpoint pool needs at least one base URL")
        self.endpoints = [Endpoint(url) for url in base_urls]
        self.policy = policy
        self.clock = clock
        self.on_event = on_event or (lambda endpoint, event: None)
        self._next = 0

    def pick(self) -> Endpoint | None:
        """A closed endpoint (round-robin), or an open one due for a probe, or None (wait or give up)."""
        closed = [endpoint for endpoint in self.endpoints if endpoint.closed]
        if closed:
            endpoint = closed[self._next % len(closed)]
            self._next += 1
            return endpoint
        now = self.clock()
        for endpoint in self.endpoints:
            if not endpoint.probing and now >= endpoint.retry_at:
                endpoint.probing = True
                return endpoint
        return None

    def down_for(self) -> float:
        """Seconds every endpoint has been open (0 while one is closed)."""
        if any(endpoint.closed for endpoint in self.endpoints):
            return 0.0
        return self.clock() - max(endpoint.open_since for endpoint in self.endpoints)

    async def acquire(self, deadline: float | None = None) -> Endpoint:
        """The endpoint for the next attempt; waits for a probe while every circuit is open.

        Args:
            deadline: ``clock()`` time after which the call stops waiting (its retry budget).

        Raises:
            CallFailed: Not to be retried, with the last failure's reason (``connection_error``,
                ``timeout``, ``server_error``), once every endpoint has been open for ``give_up_s``, or
                when the deadline passes while waiting.
        """
        while True:
            endpoint = self.pick()
            if endpoint is not None:
                return endpoint
            if self.down_for() >= self.policy.give_up_s or (deadline is not None and self.clock() >= deadline):
                reason = self.endpoints[-1].last_reason
                raise CallFailed(reason, self.down_message(), transient=False)
            await asyncio.sleep(_POLL_S)

    def down_message(self) -> str:
        parts = [
            f"{endpoint.base_url} ({endpoint.failures} failures in a row; last: {endpoint.last_failure})"
            for endpoint in self.endpoints
        ]
        return "endpoint down, circuit open: " + "; ".join(parts)

    def succeeded(self, endpoint: Endpoint) -> None:
        """The endpoint answered (any reply that is not a breaking failure)."""
        endpoint.failures = 0
        endpoint.probing = False
        if not endpoint.closed:
            endpoint.open_since = None
            endpoint.cooldown_s = 0.0
            self.on_event(endpoint, "closed")

    def failed(self, endpoint: Endpoint, reason: str, detail: str) -> None:
        """An attempt on ``endpoint`` failed with ``reason``; breaking reasons may open its circuit."""
        if reason not in BREAKING_REASONS:
            self.succeeded(endpoint)
            return
        endpoint.failures += 1
        endpoint.last_failure = detail
        endpoint.last_reason = reason
        now = self.clock()
        if endpoint.probing:
            endpoint.probing = False
            endpoint.cooldown_s = min(self.policy.max_cooldown_s, max(self.policy.cooldown_s, endpoint.cooldown_s * 2))
            endpoint.retry_at = now + endpoint.cooldown_s
        elif endpoint.closed and endpoint.failures >= self.policy.failures:
            endpoint.open_since = now
            endpoint.cooldown_s = self.policy.cooldown_s
            endpoint.retry_at = now + endpoint.cooldown_s
            self.on_event(endpoint, "opened")
