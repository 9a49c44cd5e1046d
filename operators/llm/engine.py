"""The LLM engine: turns a batch of ``LLMRequest`` into one ``LLMResult`` each, with nothing lost.

One engine lives in each worker (a Ray actor of an LLM stage). It owns an event loop on a background
thread, so ``run`` is a plain blocking call that works the same inside a Ray actor, a task, a test or a
notebook, and the HTTP connection pool survives between batches.
"""

from __future__ import annotations

from collections.abc import Sequence

from operators.llm.config import LLMConfig
from operators.llm.request import LLMRequest, LLMResult


class LLMEngine:
    """Sends requests to an OpenAI-compatible endpoint through cache, limits, retries and validation.

    For each request, in order: render the template; look the rendered request up in the response
    cache (a hit answers without a request); reserve budget and rate from the run's coordinator (a
    request that does not fit the budget is dead-lettered ``budget_exhausted`` and never sent); send
    with at most ``max_in_flight`` in flight, retrying transient failures; validate the reply against
    the template's schema, with bounded repair requests; store the reply in the cache; settle the
    ledger with the real token usage.

    Args:
        config: The endpoint and policies. ``backend: local`` configs must be resolved by
            ``LLMService`` first (they need the embedded server's URL).
        stage: Name under which the ledger books this engine's calls.
    """

    def __init__(self, config: LLMConfig, *, stage: str = "llm"):
        raise NotImplementedError

    def run(self, requests: Sequence[LLMRequest]) -> list[LLMResult]:
        """Answers every request; returns one result per request, in request order.

        Blocking; safe to call from a Ray actor's synchronous method. Never raises for a failed call
        (that becomes a dead letter); raises only for programming errors such as duplicate ids.
        """
        raise NotImplementedError

    async def arun(self, requests: Sequence[LLMRequest]) -> list[LLMResult]:
        """``run`` for callers that already are coroutines on the engine's own loop (rarely needed)."""
        raise NotImplementedError

    def ledger(self) -> dict:
        """This engine's totals so far: requests, cache hits/misses, tokens, cost, dead letters by reason."""
        raise NotImplementedError

    def close(self) -> None:
        """Flushes the ledger to the coordinator, closes connections and stops the loop thread."""
        raise NotImplementedError
