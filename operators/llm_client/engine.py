"""The LLM engine: turns a batch of ``LLMRequest`` into one ``LLMResult`` each, with nothing lost.

One engine lives in each worker (a Ray actor of an LLM stage). It owns an event loop on a background
thread, so ``run`` is a plain blocking call that works the same inside a Ray actor, a task, a test or a
notebook, and the HTTP connection pool survives between batches.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from sftforge.operators.llm_client.cache import CachedCompletion, ResponseCache, cache_key
from sftforge.operators.llm_client.config import LLMConfig
from sftforge.operators.llm_client.coordinator import CoordinatorClient
from sftforge.operators.llm_client.prompt import PromptError
from sftforge.operators.llm_client.request import (
    CONTENT_FILTER,
    EMPTY_REPLY,
    PROMPT_ERROR,
    TRUNCATED,
    LLMRequest,
    LLMResult,
)
from sftforge.operators.llm_client.sender import Sender
from sftforge.operators.llm_client.structured import ParsedReply, parse_reply, repair_message
from sftforge.operators.llm_client.transport import (
    NO_KEY,
    RAW_LIMIT,
    CallFailed,
    redact,
)

log = logging.getLogger("sftforge.llm")

# httpx2 logs every request at INFO; a run makes millions. Quiet unless someone configured it.
if logging.getLogger("httpx2").level == logging.NOTSET:
    logging.getLogger("httpx2").setLevel(logging.WARNING)

_RAW_LIMIT = RAW_LIMIT


@dataclass
class _Outcome:
    completion: CachedCompletion
    attempts: int


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, CallFailed) and error.transient


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
        if not config.base_url:
            raise ValueError(
                "LLMEngine needs a base_url; for backend 'local' use LLMService(config).config, "
                "which starts the embedded server and fills it in"
            )
        self.config = config
        self.stage = stage
        self._cache = ResponseCache(config.cache) if config.cache else None
        self._cache_blocks = self._cache is not None and not self._cache.local
        self._coordinator = CoordinatorClient(config)
        self._gated = config.limits.enabled or config.budget.enabled
        self._totals: Counter = Counter()
        self._unflushed: Counter = Counter()
        self._api_key = self._read_api_key()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._sender = Sender(config, self._coordinator, self._api_key, self._count)

    def _read_api_key(self) -> str:
        name = self.config.api_key_env
        key = os.environ.get(name) if name else None
        if name and not key:
            log.info("environment variable %s is not set; sending requests without an API key", name)
        return key or NO_KEY

    # -- public API ---------------------------------------------------------------------------------

    def run(self, requests: Sequence[LLMRequest]) -> list[LLMResult]:
        """Answers every request; returns one result per request, in request order.

        Blocking; safe to call from a Ray actor's synchronous method. Never raises for a failed call
        (that becomes a dead letter); raises only for programming errors such as duplicate ids.
        """
        self._check_ids(requests)
        if not requests:
            return []
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            raise RuntimeError("LLMEngine.run called from the engine's own loop; await arun instead")
        future = asyncio.run_coroutine_threadsafe(self.arun(requests), loop)
        try:
            return future.result()
        finally:
            self.flush()

    async def arun(self, requests: Sequence[LLMRequest]) -> list[LLMResult]:
        """``run`` for callers that already are coroutines on the engine's own loop (rarely needed)."""
        self._check_ids(requests)
        results: list[LLMResult | None] = [None] * len(requests)
        indices = iter(range(len(requests)))

        async def work() -> None:
            # Each worker holds one call (and its retries) at a time: the pool size bounds requests in
            # flight, and memory stays flat however large the batch is.
            for index in indices:
                results[index] = await self._answer(requests[index])

        workers = min(self.config.max_in_flight, len(requests))
        await asyncio.gather(*(work() for _ in range(workers)))
        assert all(result is not None for result in results)
        return results  # type: ignore[return-value]

    def ledger(self) -> dict:
        """This engine's totals so far: requests, cache hits/misses, tokens, cost, dead letters by reason."""
        totals = {name: int(value) for name, value in sorted(self._totals.items())}
        price = self.config.price()
        totals["cost"] = (
            totals.get("prompt_tokens", 0) * price.prompt_per_million
            + totals.get("completion_tokens", 0) * price.completion_per_million
        ) / 1e6
        return totals

    def flush(self) -> None:
        """Books the counts since the last flush with the run's coordinator."""
        if self._unflushed:
            counts = dict(self._unflushed)
            self._unflushed.clear()
            self._coordinator.record(self.stage, counts)

    def close(self) -> None:
        """Flushes the ledger to the coordinator, closes connections and stops the loop thread."""
        self.flush()
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._sender.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- one call -----------------------------------------------------------------------------------

    async def _answer(self, request: LLMRequest) -> LLMResult:
        template = request.template
        self._count("calls")
        mode = self.config.structured_output
        try:
            messages = template.render(request.variables, mode)
        except PromptError as error:
            return self._dead(request, PROMPT_ERROR, str(error))
        params = self._parameters(request)
        response_format = template.response_format(mode)
        conversation = messages
        rounds = 1 + (self.config.retry.repair_attempts if template.schema is not None else 0)
        prompt_tokens = completion_tokens = attempts = 0
        all_cached = True
        parsed = ParsedReply()
        text = ""
        completion: CachedCompletion | None = None
        for round_ in range(rounds):
            if round_:
                self._count("repairs")
            material = {
                "params": params,
                "response_format": response_format,
                "template": f"{template.name}@{template.version}",
                "messages": conversation,
                "sample": request.sample,
            }
            key = cache_key(material)
            completion = await self._cache_get(key)
            if completion is not None:
                self._count("cache_hits")
            else:
                if self._cache is not None:
                    self._count("cache_misses")
                all_cached = False
                try:
                    outcome = await self._sender.send(conversation, params, response_format)
                except CallFailed as failure:
                    return self._dead(
                        request,
                        failure.reason,
                        failure.detail,
                        raw=failure.raw,
                        attempts=attempts + failure.attempts,
                        prompt_tokens=prompt_tokens,
                        completion_tokens=completion_tokens,
                    )
                completion = outcome.completion
                attempts += outcome.attempts
                prompt_tokens += completion.prompt_tokens
                completion_tokens += completion.completion_tokens
                await self._cache_put(key, completion)
            text = completion.content
            if completion.finish_reason == "content_filter":
                return self._dead(
                    request, CONTENT_FILTER, "the endpoint filtered the reply", raw=text, attempts=attempts,
                    prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                )
            if template.schema is None:
                if not text.strip():
                    return self._dead(
                        request, EMPTY_REPLY, "the reply was empty", raw=text, attempts=attempts,
                        prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                    )
                if completion.finish_reason == "length":
                    return self._dead(
                        request, TRUNCATED, f"the reply hit max_tokens={params['max_tokens']}", raw=text,
                        attempts=attempts, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                    )
                return self._answered(request, text, None, attempts, prompt_tokens, completion_tokens, all_cached)
            if not text.strip():
                parsed = ParsedReply(reason=EMPTY_REPLY, error="the reply was empty")
            else:
                parsed = parse_reply(text, template.schema)
            if parsed.ok:
                return self._answered(
                    request, text, parsed.data, attempts, prompt_tokens, completion_tokens, all_cached
                )
            conversation = [
                *messages,
                {"role": "assistant", "content": text},
                {"role": "user", "content": repair_message(parsed.error or parsed.reason)},
            ]
        reason = parsed.reason or EMPTY_REPLY
        detail = parsed.error or ""
        if completion is not None and completion.finish_reason == "length":
            reason, detail = TRUNCATED, f"the reply hit max_tokens={params['max_tokens']}: {detail}"
        return self._dead(
            request, reason, detail, raw=text, attempts=attempts,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
        )

    def _parameters(self, request: LLMRequest) -> dict[str, Any]:
        params = self.config.sampling_parameters()
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if "seed" in params:
            params["seed"] = params["seed"] + request.sample
        return params

    # -- results and counting -----------------------------------------------------------------------

    def _answered(self, request, text, data, attempts, prompt_tokens, completion_tokens, cached) -> LLMResult:
        self._count("answered")
        self._count("prompt_tokens", prompt_tokens)
        self._count("completion_tokens", completion_tokens)
        return LLMResult(
            id=request.id,
            text=text,
            data=data,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached=cached,
            attempts=attempts,
            model=self.config.model,
            template=f"{request.template.name}@{request.template.version}",
        )

    def _dead(self, request, reason, detail, *, raw=None, attempts=0, prompt_tokens=0, completion_tokens=0):
        self._count("dead_lettered")
        self._count(f"dead_letter.{reason}")
        self._count("prompt_tokens", prompt_tokens)
        self._count("completion_tokens", completion_tokens)
        return LLMResult(
            id=request.id,
            reason=reason,
            detail=self._redact(detail or reason),
            raw=None if raw is None else self._redact(raw)[:_RAW_LIMIT],
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            attempts=attempts,
            model=self.config.model,
            template=f"{request.template.name}@{request.template.version}",
        )

    def _count(self, name: str, value: int = 1) -> None:
        if value:
            self._totals[name] += value
            self._unflushed[name] += value

    def _redact(self, text: str) -> str:
        return redact(text, self._api_key)

    @staticmethod
    def _check_ids(requests: Sequence[LLMRequest]) -> None:
        seen: set[str] = set()
        for request in requests:
            if request.id in seen:
                raise ValueError(f"duplicate LLM request id '{request.id}'")
            seen.add(request.id)

    # -- cache --------------------------------------------------------------------------------------

    async def _cache_get(self, key: str) -> CachedCompletion | None:
        if self._cache is None:
            return None
        if self._cache_blocks:
            return await asyncio.to_thread(self._cache.get, key)
        return self._cache.get(key)

    async def _cache_put(self, key: str, completion: CachedCompletion) -> None:
        if self._cache is None:
            return
        if self._cache_blocks:
            await asyncio.to_thread(self._cache.put, key, completion)
        else:
            self._cache.put(key, completion)

    # -- loop and client ----------------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=f"llm-engine-{self.stage}", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop
