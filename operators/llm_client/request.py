"""What a caller hands the engine (``LLMRequest``) and what it always gets back (``LLMResult``).

A result is either an answer (``ok``: non-empty ``text``, and ``data`` when the template has a schema)
or a dead letter (``reason`` set, with the raw reply when there was one). Nothing is ever returned as
an empty string or None standing in for an answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sftforge.operators.llm_client.prompt import PromptTemplate

# Dead-letter reasons: one vocabulary, used in ``reject_reason`` as ``llm_<reason>``.
BUDGET_EXHAUSTED = "budget_exhausted"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"
CLIENT_ERROR = "client_error"
ENDPOINT_ERROR = "endpoint_error"
BAD_RESPONSE = "bad_response"
EMPTY_REPLY = "empty_reply"
TRUNCATED = "truncated"
CONTENT_FILTER = "content_filter"
INVALID_JSON = "invalid_json"
SCHEMA_MISMATCH = "schema_mismatch"
PROMPT_ERROR = "prompt_error"

DEAD_LETTER_REASONS = (
    BUDGET_EXHAUSTED,
    RATE_LIMITED,
    SERVER_ERROR,
    TIMEOUT,
    CONNECTION_ERROR,
    CLIENT_ERROR,
    ENDPOINT_ERROR,
    BAD_RESPONSE,
    EMPTY_REPLY,
    TRUNCATED,
    CONTENT_FILTER,
    INVALID_JSON,
    SCHEMA_MISMATCH,
    PROMPT_ERROR,
)

#: Reasons that say the endpoint failed (down, overloaded, out of budget, refusing the key or the model),
#: never that the row is bad: a row whose call ended with one of these is not rejected
#: (``LLMConfig.on_failure`` decides what happens). ``endpoint_error`` is a 401, 403 or 404 (wrong key,
#: wrong URL, unknown model); any other 4xx is ``client_error``, about the request itself.
ENDPOINT_FAILURE_REASONS = frozenset(
    {BUDGET_EXHAUSTED, RATE_LIMITED, SERVER_ERROR, TIMEOUT, CONNECTION_ERROR, ENDPOINT_ERROR}
)


def is_endpoint_failure(reason: str | None) -> bool:
    """Whether a dead-letter reason is an outage of the endpoint rather than a verdict on the reply."""
    return reason in ENDPOINT_FAILURE_REASONS


class EndpointOutage(RuntimeError):
    """More of a stage's calls failed for endpoint reasons than ``llm.max_failure_rate`` tolerates.

    Raised (with ``llm.on_failure: fail``) instead of publishing a release in which an outage would pass
    for a verdict on the data. The response cache is kept, so a re-run resumes where this one stopped.

    Attributes:
        stage: The stage whose calls failed (``judge``, ``augment.self_instruct``, ...).
        failed: Calls that failed for an endpoint reason.
        total: Calls the stage made.
        reason: The most frequent endpoint reason (or a one-line cause, such as a dead local server).
    """

    def __init__(self, stage: str, failed: int, total: int, reason: str, detail: str | None = None):
        self.stage = stage
        self.failed = failed
        self.total = total
        self.reason = reason
        self.detail = detail
        message = (
            f"{stage}: {failed} of {total} LLM calls failed for an endpoint reason ({reason}); the response "
            "cache is kept, so a re-run resumes where this one stopped "
            "(llm.on_failure: keep passes such rows on, flagged)"
        )
        super().__init__(f"{message}: {detail}" if detail else message)

    def __reduce__(self):
        return (type(self), (self.stage, self.failed, self.total, self.reason, self.detail))


@dataclass(frozen=True)
class LLMRequest:
    """One call: a template, the values of its placeholders, and optional per-call overrides.

    Attributes:
        id: The caller's key for the result (a ``doc_id``, or ``doc_id`` + a suffix); results come
            back in request order, and ``id`` is copied into each.
        template: The prompt template.
        variables: Values of the template's placeholders.
        sample: Index of a repeated draw of the same prompt (self-instruct asks the same prompt many
            times at temperature > 0); part of the cache key, and added to ``seed`` when one is set.
        temperature: Overrides the config's temperature for this call.
        max_tokens: Overrides the config's ``max_tokens`` for this call.
    """

    id: str
    template: PromptTemplate
    variables: Mapping[str, Any] = field(default_factory=dict)
    sample: int = 0
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class LLMResult:
    """The outcome of one ``LLMRequest``: an answer or a dead letter, never neither.

    Attributes:
        id: The request's ``id``.
        text: The reply text (answers only; never empty).
        data: The parsed and validated JSON reply (answers of templates with a schema).
        reason: Dead-letter reason (one of ``DEAD_LETTER_REASONS``); None for answers.
        detail: Human-readable cause of a dead letter (status code, validation error, ...).
        raw: The last raw reply body or text received, when any (dead letters keep the evidence).
        prompt_tokens: Prompt tokens billed for this call, repair requests included (0 when cached).
        completion_tokens: Completion tokens billed for this call (0 when cached).
        cached: True when the answer came from the response cache without a request.
        attempts: HTTP requests made for this call (0 when cached or never sent).
        model: Model that answered (or was asked).
        template: ``name@version`` of the template.
    """

    id: str
    text: str | None = None
    data: Any = None
    reason: str | None = None
    detail: str | None = None
    raw: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    attempts: int = 0
    model: str = ""
    template: str = ""

    def __post_init__(self) -> None:
        if self.reason is None and not self.text:
            raise ValueError(f"result '{self.id}' is neither an answer nor a dead letter")
        if self.reason is not None and self.reason not in DEAD_LETTER_REASONS:
            raise ValueError(f"unknown dead-letter reason '{self.reason}'")

    @property
    def ok(self) -> bool:
        """True for an answer, False for a dead letter."""
        return self.reason is None

    @property
    def reject_reason(self) -> str | None:
        """The ``reject_reason`` a stage writes for this row (``llm_<reason>``), None for answers."""
        return None if self.reason is None else f"llm_{self.reason}"


DEAD_LETTER_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("template", pa.string()),
        ("model", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw", pa.string()),
        ("attempts", pa.int64()),
    ]
)


def dead_letter_table(results: Sequence[LLMResult]) -> pa.Table:
    """The dead letters among ``results`` as a table (schema ``DEAD_LETTER_SCHEMA``)."""
    dead = [result for result in results if not result.ok]
    return pa.table(
        {
            "id": [result.id for result in dead],
            "template": [result.template for result in dead],
            "model": [result.model for result in dead],
            "reason": [result.reason for result in dead],
            "detail": [result.detail for result in dead],
            "raw": [result.raw for result in dead],
            "attempts": [result.attempts for result in dead],
        },
        schema=DEAD_LETTER_SCHEMA,
    )


def results_by_id(results: Sequence[LLMResult]) -> dict[str, LLMResult]:
    """Indexes results by request id."""
    return {result.id: result for result in results}
