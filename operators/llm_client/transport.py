"""One HTTP exchange with a chat-completions endpoint, read into a ``CachedCompletion`` or a ``CallFailed``.

What the engine needs to know of a failed exchange is its dead-letter reason and whether a retry may
help; this module maps HTTP statuses, transport errors and unreadable bodies to exactly that.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import TYPE_CHECKING, Any

from sftforge.operators.llm_client.cache import CachedCompletion
from sftforge.operators.llm_client.coordinator import estimate_tokens
from sftforge.operators.llm_client.request import (
    BAD_RESPONSE,
    CLIENT_ERROR,
    CONNECTION_ERROR,
    ENDPOINT_ERROR,
    RATE_LIMITED,
    SERVER_ERROR,
    TIMEOUT,
)

if TYPE_CHECKING:  # the SDK is imported when the first call is made: a run without LLM never loads it
    import openai

#: Placeholder sent as the key to endpoints that need none (local servers).
NO_KEY = "sk-no-key-required"

#: Most characters of a raw reply kept as evidence in a dead letter.
RAW_LIMIT = 4000

_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{4})[A-Za-z0-9_\-*]+")

#: Statuses that say the endpoint refuses the key, the URL or the model: no row can get through.
ENDPOINT_STATUSES = frozenset({401, 403, 404})


class CallFailed(Exception):
    """One attempt or one call failed; carries the dead-letter reason and whether to retry."""

    def __init__(
        self,
        reason: str,
        detail: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        raw: str | None = None,
    ):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.transient = transient
        self.retry_after = retry_after
        self.raw = raw
        self.attempts = 0


def redact(text: str, api_key: str | None) -> str:
    """``text`` without the API key, nor anything shaped like one (``sk-...``)."""
    if api_key and api_key != NO_KEY and len(api_key) >= 4:
        text = text.replace(api_key, "[redacted]")
    return _KEY_PATTERN.sub(r"\1[redacted]", text)


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a 429/503 asks to wait: ``retry-after-ms``, else ``Retry-After`` (seconds or HTTP date)."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def transport_failure(error: BaseException) -> tuple[str, BaseException]:
    """``timeout`` or ``connection_error`` for a failed exchange, and the root cause.

    The transports wrap their errors in each other's (aiohttp's in httpx2's in openai's), and the
    wrapping is lossy: aiohttp's transport maps a dropped connection to a connect *timeout*. The root
    cause decides.
    """
    chain = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    root = chain[-1]
    if isinstance(root, TimeoutError) or type(root).__name__ in ("ServerTimeoutError", "SocketTimeoutError"):
        return TIMEOUT, root
    if isinstance(root, (ConnectionError, OSError)) or type(root).__module__.startswith(("aiohttp", "httpx2", "httpcore2", "h11")):
        return CONNECTION_ERROR, root
    import openai

    return (TIMEOUT if isinstance(error, (openai.APITimeoutError, TimeoutError)) else CONNECTION_ERROR), root


def status_failure(error: openai.APIStatusError, api_key: str | None) -> CallFailed:
    """The ``CallFailed`` for an HTTP error status (429, 408 and 5xx are transient)."""
    status = error.status_code
    raw = redact(error.response.text if error.response is not None else "", api_key)[:RAW_LIMIT]
    body = error.body.get("error", error.body) if isinstance(error.body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    detail = redact(f"HTTP {status}: {message or raw or error.message}", api_key)[:500]
    headers = error.response.headers if error.response is not None else None
    if status == 429:
        return CallFailed(RATE_LIMITED, detail, transient=True, retry_after=retry_after_seconds(headers), raw=raw)
    if status == 408:
        return CallFailed(TIMEOUT, detail, transient=True, raw=raw)
    if status >= 500:
        return CallFailed(SERVER_ERROR, detail, transient=True, retry_after=retry_after_seconds(headers), raw=raw)
    if status in ENDPOINT_STATUSES:
        return CallFailed(ENDPOINT_ERROR, detail, transient=False, raw=raw)
    return CallFailed(CLIENT_ERROR, detail, transient=False, raw=raw)


def read_completion(content_bytes: bytes, body: dict[str, Any], api_key: str | None) -> CachedCompletion:
    """Reads a chat-completion body; an unreadable one is a transient ``bad_response``."""
    try:
        reply = json.loads(content_bytes)
        choice = reply["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise TypeError("message content is not a string")
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raw = redact(content_bytes.decode("utf-8", "replace"), api_key)[:RAW_LIMIT]
        raise CallFailed(
            BAD_RESPONSE, f"unreadable chat completion ({type(error).__name__}: {error})"[:500],
            transient=True, raw=raw,
        ) from None
    usage = reply.get("usage") or {}
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        prompt_tokens, completion_tokens = usage["prompt_tokens"], usage.get("completion_tokens") or 0
    else:
        # Some servers omit usage; the ledger then books the estimate rather than nothing.
        prompt_tokens = estimate_tokens(body["messages"])
        completion_tokens = max(0, estimate_tokens([{"content": content or ""}]) - 4)
    return CachedCompletion(
        content=content or "",
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=int(prompt_tokens),
        completion_tokens=int(completion_tokens),
        model=str(reply.get("model") or body["model"]),
    )
