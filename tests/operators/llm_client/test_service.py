"""The run-level service: config validation, the skip line, the report, the embedded model."""

from __future__ import annotations

import importlib.util

import pytest
from pydantic import ValidationError
from sftforge.operators.llm_client import (
    LLMConfig,
    LLMEngine,
    LLMRequest,
    LLMService,
    LocalModelConfig,
    PromptTemplate,
)
from sftforge.operators.llm_client.service import LOCAL_TIMEOUT_S, public_url

HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None

TEMPLATE = PromptTemplate(name="test.service", version="1", messages=(("user", "say {word}"),))


def test_openai_backend_needs_a_base_url():
    with pytest.raises(ValidationError, match="base_url"):
        LLMConfig(backend="openai")


def test_api_key_env_must_be_a_name_not_a_key():
    with pytest.raises(ValidationError, match="NAME of an environment variable"):
        LLMConfig(base_url="http://127.0.0.1:1/v1", api_key_env="sk-live-abc123")


def test_unknown_keys_are_refused():
    with pytest.raises(ValidationError):
        LLMConfig(base_url="http://127.0.0.1:1/v1", api_key="sk-abc")


def test_report_has_ledger_and_cache_counts(server, llm_config, tmp_path):
    config = llm_config(cache=str(tmp_path))
    with LLMService(config, run_id="report-test") as service:
        for _ in range(2):
            with LLMEngine(service.config, stage="judge") as engine:
                engine.run([LLMRequest(id=w, template=TEMPLATE, variables={"word": w}) for w in "abc"])
    report = service.report()  # after exit: the totals at exit
    assert report["cache"] == {"url": str(tmp_path), "hits": 3, "misses": 3}
    stage = report["ledger"]["stages"]["judge"]
    assert (stage["calls"], stage["answered"], stage["requests"]) == (6, 6, 3)
    assert stage["prompt_tokens"] == 3 * 5 and stage["completion_tokens"] == 3 * 3
    assert report["budget"] is None and report["skipped"] is None


def test_public_url_drops_credentials():
    assert public_url("https://user:secret@api.example.com:8443/v1?key=abc") == "https://api.example.com:8443/v1"


def test_missing_local_model_skips_with_one_line():
    config = LLMConfig(backend="local", local=LocalModelConfig(model_path="/nonexistent/model.gguf"))
    with LLMService(config, run_id="skip-test") as service:
        assert not service.available and service.config is None
        assert service.skip_reason.startswith("LLM stages skipped:")
        assert "\n" not in service.skip_reason
    assert service.report()["skipped"] == service.skip_reason


@pytest.mark.skipif(HAS_LLAMA_CPP, reason="llama-cpp-python is installed")
def test_without_llama_cpp_the_skip_line_says_how_to_enable():
    with LLMService(LLMConfig(backend="local"), run_id="skip-test") as service:
        assert not service.available
        assert "pip install 'sftforge[local-llm]'" in service.skip_reason


@pytest.mark.skipif(not HAS_LLAMA_CPP, reason="llama-cpp-python is not installed (extra: sftforge[local-llm])")
def test_local_smollm2_answers_through_the_engine():
    schema = {
        "type": "object",
        "properties": {"colour": {"type": "string"}},
        "required": ["colour"],
    }
    json_template = PromptTemplate(
        name="test.local.json", version="1", schema=schema,
        messages=(("user", "What colour is the sky? Answer as JSON with the key colour."),),
    )
    config = LLMConfig(backend="local", max_tokens=48, local=LocalModelConfig(n_ctx=512))
    with LLMService(config, run_id="local-test") as service:
        assert service.available and service.config.base_url.startswith("http://127.0.0.1:")
        assert service.config.timeout_s == LOCAL_TIMEOUT_S  # the watcher, not the request, notices a dead server
        server = service._server
        with LLMEngine(service.config, stage="local") as engine:
            text, structured = engine.run(
                [
                    LLMRequest(id="t", template=TEMPLATE, variables={"word": "hello"}, max_tokens=16),
                    LLMRequest(id="j", template=json_template),
                ]
            )
        report = service.report()
    assert server.process is None  # stopped at exit
    for result in (text, structured):
        # A 135M model may ramble past max_tokens; then it is a dead letter with the evidence, never empty.
        assert (result.ok and result.text) or (result.reason in ("truncated", "schema_mismatch") and result.raw)
    if structured.ok:
        assert isinstance(structured.data["colour"], str)
    assert report["ledger"]["total"]["requests"] >= 2 and report["ledger"]["total"]["completion_tokens"] > 0
