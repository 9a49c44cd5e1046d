"""The sending side of the engine: admission by the coordinator, retries, endpoints, one HTTP client.

``Sender.send`` turns one conversation into a ``CachedCompletion`` or raises ``CallFailed``: it asks the
run's coordinator for each attempt (rate limits, budget), picks an endpoint from the pool (circuit breaker),
posts, and retries transient failures with jittered exponential backoff within the retry policy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sftforge.operators.llm_client.cache import CachedCompletion
from sftforge.operators.llm_client.config import LLMConfig
from sftforge.operators.llm_client.coordinator import CoordinatorClient, estimate_tokens
from sftforge.operators.llm_client.endpoints import BREAKING_REASONS, Endpoint, EndpointPool
from sftforge.operators.llm_client.request import BUDGET_EXHAUSTED, RATE_LIMITED, TIMEOUT
from sftforge.operators.llm_client.transport import (
    CallFailed,
    read_completion,
    redact,
    status_failure,
    transport_failure,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

if TYPE_CHECKING:
    import openai


def _sdk():
    """The OpenAI SDK and its HTTP library, imported by the first sender: a run without LLM stages never
    pays for loading them (seconds of the driver's start-up)."""
    import openai

    try:  # openai 3.x speaks httpx2; earlier releases httpx (same API for what is used here)
        import httpx2
    except ImportError:  # pragma: no cover - depends on the installed openai
        import httpx as httpx2
    return openai, httpx2

log = logging.getLogger("sftforge.llm")


@dataclass
class Outcome:
    """A completion and the HTTP requests it took."""

    completion: CachedCompletion
    attempts: int


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, CallFailed) and error.transient


class Sender:
    """Sends requests for one engine (on its event loop).

    Args:
        config: The endpoint(s) and policies.
        coordinator: The run's coordinator (rate limits, budget).
        api_key: The key to send.
        count: ``count(name, value)`` books a ledger counter.
    """

    def __init__(self, config: LLMConfig, coordinator: CoordinatorClient, api_key: str,
                 count: Callable[..., None]):
        _sdk()  # loaded here, before any admission: its seconds of import never delay an admitted call
        self.config = config
        self.coordinator = coordinator
        self.api_key = api_key
        self.count = count
        self.gated = config.limits.enabled or config.budget.enabled
        self.pool = EndpointPool(config.endpoints, config.circuit, on_event=self._endpoint_event)
        self.client_: openai.AsyncOpenAI | None = None

    def redact(self, text: str) -> str:
        return redact(text, self.api_key)

    async def close(self) -> None:
        if self.client_ is not None:
            await self.client_.close()
            self.client_ = None

    async def send(self, messages: list[dict], params: dict[str, Any], response_format) -> Outcome:
        """Sends one request with retries; raises ``CallFailed`` when it cannot be answered."""
        policy = self.config.retry
        body = {key: value for key, value in params.items() if key != "extra_body"}
        body["messages"] = messages
        if response_format is not None:
            body["response_format"] = response_format
        extra_body = params.get("extra_body") or None
        estimate = estimate_tokens(messages) if self.gated else 0  # only the coordinator reads it
        backoff = wait_random_exponential(multiplier=policy.initial_backoff_s, max=policy.max_backoff_s)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            asked = getattr(error, "retry_after", None) or 0.0
            return max(backoff(state), min(asked, policy.max_total_s))

        attempts = 0
        deadline = time.monotonic() + policy.max_total_s
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.max_attempts) | stop_after_delay(policy.max_total_s),
            wait=wait,
            retry=retry_if_exception(_is_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    ticket = await self._admit(estimate, body["max_tokens"])
                    attempts += 1
                    if attempts > 1:
                        self.count("retries")
                    completion = await self._attempt(body, extra_body, ticket, deadline)
        except CallFailed as failure:
            failure.attempts = attempts
            raise
        return Outcome(completion, attempts)

    async def _admit(self, estimate: int, max_completion: int) -> int:
        """Waits for the coordinator's go (rate limits, pauses); returns the budget ticket (0: ungated)."""
        if not self.gated:
            return 0
        admission = await self.coordinator.admit(estimate, max_completion)
        if not admission.allowed:
            raise CallFailed(
                BUDGET_EXHAUSTED, "the run's LLM budget cannot cover this request; not sent", transient=False
            )
        if admission.wait_s > 0:
            await asyncio.sleep(max(0.0, admission.not_before - time.time()))
        return admission.ticket

    async def _attempt(
        self, body: dict[str, Any], extra_body: dict | None, ticket: int, deadline: float
    ) -> CachedCompletion:
        billed = (0, 0)
        try:
            while True:
                endpoint = await self.pool.acquire(deadline)
                probe = not endpoint.closed
                self.count("requests")
                self.count(f"endpoint|{endpoint.base_url}|requests")
                try:
                    completion = await self._post(endpoint, body, extra_body)
                except CallFailed as failure:
                    self.pool.failed(endpoint, failure.reason, failure.detail)
                    self.count(f"endpoint|{endpoint.base_url}|failures")
                    log.debug("LLM request to %s failed (%s): %s", endpoint.base_url, failure.reason, failure.detail)
                    if probe and failure.reason in BREAKING_REASONS:
                        # A failed probe is the endpoint's failure, not this call's: wait for the next probe
                        # (bounded by give_up_s and the deadline) rather than spend the call's attempts.
                        continue
                    if failure.reason == RATE_LIMITED and failure.retry_after:
                        await self.coordinator.pause(failure.retry_after)
                    raise
                billed = (completion.prompt_tokens, completion.completion_tokens)
                self.pool.succeeded(endpoint)
                return completion
        finally:
            if ticket:
                await self.coordinator.settle(ticket, *billed)

    async def _post(self, endpoint: Endpoint, body: dict[str, Any], extra_body: dict | None) -> CachedCompletion:
        openai, httpx2 = _sdk()
        client = self._client_for_loop()
        timeout = self.config.timeout_s
        payload = {**body, **extra_body} if extra_body else body
        try:
            async with asyncio.timeout(timeout):
                # The SDK's generic ``post`` (its documented way to call any endpoint) keeps its auth,
                # errors and timeouts (the client's default) but skips the per-call TypedDict transform
                # and model construction, which cost more CPU than everything else at hundreds of calls
                # a second. The URL is absolute: one client serves every endpoint of the pool.
                response = await client.post(endpoint.url, cast_to=httpx2.Response, body=payload)
        except openai.APIStatusError as error:
            raise status_failure(error, self.api_key) from None
        except (openai.APIConnectionError, TimeoutError) as error:
            reason, cause = transport_failure(error)
            detail = f"no reply within {timeout:g}s" if reason == TIMEOUT else f"{type(cause).__name__}: {cause}"
            raise CallFailed(reason, self.redact(detail), transient=True) from None
        return read_completion(response.content, body, self.api_key)

    def _endpoint_event(self, endpoint: Endpoint, event: str) -> None:
        self.count(f"endpoint|{endpoint.base_url}|{event}")
        if event == "opened":
            log.warning("LLM endpoint %s taken out of use after %d failures in a row (%s); probing it",
                        endpoint.base_url, endpoint.failures, endpoint.last_failure)
        else:
            log.warning("LLM endpoint %s answers again", endpoint.base_url)

    def _client_for_loop(self) -> openai.AsyncOpenAI:
        if self.client_ is None:
            openai, httpx2 = _sdk()
            size = self.config.max_in_flight
            limits = httpx2.Limits(max_connections=size, max_keepalive_connections=size)
            try:
                # aiohttp's pool costs the same per request at any size; httpx2's scans every
                # connection per request, which at 256 in flight costs more CPU than the rest.
                http_client = openai.DefaultAioHttpClient(limits=limits, timeout=self.config.timeout_s)
            except (RuntimeError, AttributeError):
                http_client = openai.DefaultAsyncHttpxClient(limits=limits, timeout=self.config.timeout_s)
            client = openai.AsyncOpenAI(
                base_url=self.config.endpoints[0],
                api_key=self.api_key,
                max_retries=0,
                timeout=self.config.timeout_s,
                http_client=http_client,
            )
            # The SDK's platform headers (OS, architecture, runtime versions) tell the endpoint nothing it
            # needs and cost a fifth of the client's CPU per request: httpx2 scans every header per lookup.
            telemetry = {
                name: openai.Omit() for name in client.default_headers if name.lower().startswith("x-stainless")
            }
            self.client_ = client.with_options(default_headers=telemetry) if telemetry else client
        return self.client_
