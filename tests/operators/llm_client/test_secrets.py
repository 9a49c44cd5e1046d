"""Secret hygiene: the API key reaches the endpoint and nothing else (outputs, cache, report, logs)."""

from __future__ import annotations

import json
import logging
import secrets

import pyarrow.parquet as pq
from sftforge.operators.llm_client import LLMEngine, LLMRequest, LLMService, PromptTemplate, dead_letter_table

from tests.support.openai_server import UNAUTHORIZED, fail_first

TEMPLATE = PromptTemplate(name="test.secret", version="1", messages=(("user", "say {word}"),))


def test_api_key_appears_in_no_output_cache_report_or_log(server, llm_config, tmp_path, monkeypatch, caplog, capfd):
    key = "sk-test-" + secrets.token_hex(16)
    monkeypatch.setenv("SFTFORGE_TEST_API_KEY", key)
    caplog.set_level(logging.DEBUG)
    # One row gets a 401 whose message quotes the key, as OpenAI's does.
    server.settings.faults = fail_first(UNAUTHORIZED, attempts=99, when=lambda r: "w0" in r.last_user_message())
    config = llm_config(api_key_env="SFTFORGE_TEST_API_KEY", cache=str(tmp_path / "cache"))
    outputs = tmp_path / "out"
    outputs.mkdir()
    with LLMService(config, run_id="secret-test") as service:
        with LLMEngine(service.config, stage="s") as engine:
            results = engine.run(
                [LLMRequest(id=f"w{i}", template=TEMPLATE, variables={"word": f"w{i}"}) for i in range(5)]
            )
        report = service.report()
    (outputs / "manifest.json").write_text(json.dumps({"llm": report, "config": config.model_dump()}))
    pq.write_table(dead_letter_table(results), outputs / "dead_letters.parquet")
    (outputs / "results.jsonl").write_text("\n".join(json.dumps(vars(result), default=str) for result in results))

    assert server.log[0].authorization == f"Bearer {key}"  # the key was used
    [dead] = [result for result in results if not result.ok]
    assert dead.reason == "endpoint_error" and "Incorrect API key" in dead.detail
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.suffix == ".json" and "cache" in path.parts for path in files)
    for path in files:
        assert key.encode() not in path.read_bytes(), f"API key found in {path}"
        assert key[8:].encode() not in path.read_bytes(), f"part of the API key found in {path}"
    captured = capfd.readouterr()
    for text in (caplog.text, captured.out, captured.err, repr(config), str(report)):
        assert key not in text and key[8:] not in text
