"""Preflight: before any stage runs, each configured endpoint must answer, accept the key and serve the model.

One ``GET /models`` per endpoint (and, where that route is missing, one chat completion of one token).
An endpoint that is unreachable, refuses the key (401/403) or does not serve the model stops the run in
seconds with one line naming the URL and the status, never the key. A 5xx or 429 here is left to the
run's own retries and failure policy.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from http.client import responses

from sftforge.operators.llm_client.config import LLMConfig

#: Statuses that mean no call of the run can succeed.
FATAL_STATUSES = frozenset({401, 403, 404})


class EndpointUnavailable(RuntimeError):
    """An endpoint failed its preflight check; the message names the URL and the status, never the key."""


def _public(url: str) -> str:
    from sftforge.operators.llm_client.service import public_url

    return public_url(url) or url


def _request(url: str, key: str | None, body: dict | None, timeout: float) -> tuple[int, bytes]:
    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def _status_line(status: int) -> str:
    return f"HTTP {status} {responses.get(status, '')}".strip()


def check_endpoint(base_url: str, model: str, key: str | None, *, key_env: str | None = None,
                   timeout: float = 5.0) -> None:
    """Checks one endpoint; raises ``EndpointUnavailable`` when no call of a run could succeed there."""
    root = base_url.rstrip("/")
    public = _public(root)
    hint = f" (check the key in ${key_env})" if key_env and key else ""
    if key_env and not key:
        hint = f" (${key_env} is not set)"
    try:
        status, payload = _request(root + "/models", key, None, timeout)
        if status == 404:  # some servers have no /models: ask for one token instead
            body = {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}
            status, payload = _request(root + "/chat/completions", key, body, timeout)
            if status == 404:
                raise EndpointUnavailable(f"LLM endpoint {public}: {_status_line(404)} (wrong URL or unknown "
                                          f"model '{model}')")
    except (urllib.error.URLError, OSError) as error:
        cause = getattr(error, "reason", error)
        raise EndpointUnavailable(f"LLM endpoint {public} is unreachable: {cause}") from None
    if status in (401, 403):
        raise EndpointUnavailable(f"LLM endpoint {public}: {_status_line(status)}{hint}")
    if status != 200:
        return
    try:
        served = [entry.get("id") for entry in json.loads(payload).get("data", [])]
    except (ValueError, AttributeError):
        return
    if served and model not in served:
        listed = ", ".join(str(name) for name in served[:5]) + (", ..." if len(served) > 5 else "")
        raise EndpointUnavailable(f"LLM endpoint {public}: model '{model}' is not served (it serves: {listed})")


def preflight(config: LLMConfig, *, timeout: float = 5.0) -> None:
    """Checks every endpoint of ``config`` (``backend: openai``; the local server checks itself)."""
    if config.backend != "openai":
        return
    key = os.environ.get(config.api_key_env) if config.api_key_env else None
    for url in config.endpoints:
        check_endpoint(url, config.model, key, key_env=config.api_key_env, timeout=min(timeout, config.timeout_s))
