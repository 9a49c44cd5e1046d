"""Fixtures of the LLM engine tests: a real chat-completions server on 127.0.0.1 and quick policies."""

from __future__ import annotations

import pytest
from sftforge.operators.llm_client import LLMConfig, RetryPolicy

from tests.support.openai_server import OpenAITestServer

#: Retries that take milliseconds, so that fault tests stay fast; the policy's shape is unchanged.
QUICK_RETRY = RetryPolicy(max_attempts=4, max_total_s=20, initial_backoff_s=0.01, max_backoff_s=0.05)


@pytest.fixture
def server():
    with OpenAITestServer(retry_after=0.2, hang_s=1.0) as running:
        yield running


@pytest.fixture
def llm_config(server):
    """Factory of configs pointing at the test server, with quick retries and a short timeout."""

    def make(**overrides) -> LLMConfig:
        values = {
            "base_url": server.url,
            "model": "test-model",
            "api_key_env": None,
            "timeout_s": 0.5,
            "retry": QUICK_RETRY,
            "max_in_flight": 8,
        }
        values.update(overrides)
        return LLMConfig(**values)

    return make
