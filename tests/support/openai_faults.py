"""The test server's requests as it saw them, its default reply, and the faults it can inject.

A fault function gets each ``ReceivedRequest`` and returns a fault kind (or None): ``fail_first`` fails
each distinct body a number of times, ``always`` every time, ``fault_fraction`` a deterministic share
of prompts. ``tests.support.openai_server`` re-exports every name here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RATE_LIMIT = "rate_limit"
SERVER_ERROR = "server_error"
BAD_REQUEST = "bad_request"
TIMEOUT = "timeout"
MALFORMED_JSON = "malformed_json"
TRUNCATED = "truncated"
DROP = "drop"
GARBLED_REPLY = "garbled_reply"
UNAUTHORIZED = "unauthorized"

#: Every fault the server can inject.
FAULT_KINDS = (
    RATE_LIMIT, SERVER_ERROR, BAD_REQUEST, UNAUTHORIZED, TIMEOUT, MALFORMED_JSON, TRUNCATED, DROP, GARBLED_REPLY
)

#: Faults a well-behaved client retries; the others fail the row (BAD_REQUEST) or need repair.
TRANSIENT_FAULTS = (RATE_LIMIT, SERVER_ERROR, TIMEOUT, MALFORMED_JSON, TRUNCATED, DROP)

GARBLED_TEXT = "Sure! Here is what you asked for, more or less."


@dataclass
class ReceivedRequest:
    """One request as the server saw it.

    Attributes:
        index: Arrival order, from 0.
        arrival: ``time.monotonic()`` at arrival (same clock as the test process for in-process servers).
        path: Request path.
        body: The parsed JSON body (None when it was not JSON).
        attempt: How many earlier requests had exactly this body (0 on the first).
        authorization: The ``Authorization`` header (kept in memory only, never written anywhere).
        fault: The fault injected into this request, if any.
    """

    index: int
    arrival: float
    path: str
    body: Any
    attempt: int
    authorization: str | None = None
    fault: str | None = None
    answered: float | None = None

    def last_user_message(self) -> str:
        messages = (self.body or {}).get("messages") or []
        for message in reversed(messages):
            if message.get("role") == "user":
                return str(message.get("content", ""))
        return ""


ReplyFunction = Callable[[dict], "str | dict | list"]
FaultFunction = Callable[[ReceivedRequest], "str | None"]


def echo_reply(body: dict) -> str:
    """The default reply: ``echo: `` and the last user message."""
    messages = body.get("messages") or []
    users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
    return "echo: " + (users[-1] if users else "")


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: words, and each CJK character as one token."""
    cjk = sum(1 for char in text if "\u4e00" <= char <= "\u9fff")
    return max(1, len(text.split()) + cjk)


def fail_first(kind: str, attempts: int = 1, *, when: Callable[[ReceivedRequest], bool] | None = None):
    """Fault function: the first ``attempts`` requests of each distinct body fail with ``kind``."""

    def faults(request: ReceivedRequest) -> str | None:
        if request.attempt < attempts and (when is None or when(request)):
            return kind
        return None

    return faults


def always(kind: str, *, when: Callable[[ReceivedRequest], bool] | None = None):
    """Fault function: every request (matching ``when``) fails with ``kind``."""
    return fail_first(kind, attempts=1 << 30, when=when)


def fault_fraction(fraction: float, kinds: tuple[str, ...] = FAULT_KINDS, *, seed: str = "0", persistent=()):
    """Fault function: a deterministic ``fraction`` of prompts get a fault, the kinds in equal shares.

    The choice hashes the request's messages, so the same prompt always gets the same fault kind. Kinds
    in ``persistent`` fail on every attempt; the others only on the first, so a retrying client recovers.
    """

    def faults(request: ReceivedRequest) -> str | None:
        messages = json.dumps((request.body or {}).get("messages"), sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(f"{seed}:{messages}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        if draw >= fraction:
            return None
        kind = kinds[int(draw / fraction * len(kinds)) % len(kinds)]
        if kind in persistent or request.attempt == 0:
            return kind
        return None

    return faults
