"""The engine against a real chat-completions server: answers, every fault kind, retries, repair."""

from __future__ import annotations

import pytest
from sftforge.operators.llm_client import LLMEngine, LLMRequest, PromptTemplate, RetryPolicy
from sftforge.operators.llm_client import request as reasons

from tests.support.openai_server import (
    BAD_REQUEST,
    DROP,
    GARBLED_REPLY,
    MALFORMED_JSON,
    RATE_LIMIT,
    SERVER_ERROR,
    TIMEOUT,
    TRANSIENT_FAULTS,
    TRUNCATED,
    always,
    fail_first,
)

ECHO = PromptTemplate(name="test.echo", version="1", messages=(("user", "say {word}"),))
SCORE = PromptTemplate(
    name="test.score",
    version="1",
    messages=(("system", "You score words."), ("user", "score {word}")),
    schema={
        "type": "object",
        "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["score"],
    },
)

PERSISTENT_REASON = {
    RATE_LIMIT: reasons.RATE_LIMITED,
    SERVER_ERROR: reasons.SERVER_ERROR,
    TIMEOUT: reasons.TIMEOUT,
    MALFORMED_JSON: reasons.BAD_RESPONSE,
    TRUNCATED: reasons.CONNECTION_ERROR,
    DROP: reasons.CONNECTION_ERROR,
}


def echo_requests(words):
    return [LLMRequest(id=word, template=ECHO, variables={"word": word}) for word in words]


def test_answers_come_back_in_request_order(server, llm_config):
    words = [f"w{i}" for i in range(40)]
    with LLMEngine(llm_config()) as engine:
        results = engine.run(echo_requests(words))
    assert [result.id for result in results] == words
    assert [result.text for result in results] == [f"echo: say {word}" for word in words]
    assert all(result.ok and result.attempts == 1 and not result.cached for result in results)
    assert all(result.prompt_tokens > 0 and result.completion_tokens > 0 for result in results)
    assert server.count == 40


def test_request_carries_model_and_sampling_parameters(server, llm_config):
    config = llm_config(temperature=0.7, top_p=0.9, max_tokens=33, seed=11, extra_body={"top_k": 5})
    with LLMEngine(config) as engine:
        engine.run([LLMRequest(id="a", template=ECHO, variables={"word": "x"}, sample=2)])
    body = server.log[0].body
    assert body["model"] == "test-model"
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["top_k"]) == (0.7, 0.9, 33, 5)
    assert body["seed"] == 13  # seed + sample: repeated draws differ
    assert body["messages"] == [{"role": "user", "content": "say x"}]


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS)
def test_transient_fault_is_retried_and_answered(server, llm_config, fault):
    server.settings.faults = fail_first(fault)
    with LLMEngine(llm_config()) as engine:
        [result] = engine.run(echo_requests(["alpha"]))
        ledger = engine.ledger()
    assert result.ok, (result.reason, result.detail)
    assert result.text == "echo: say alpha"
    assert result.attempts == 2
    assert [entry.fault for entry in server.log] == [fault, None]
    assert ledger["retries"] == 1 and ledger["requests"] == 2


@pytest.mark.parametrize("fault", sorted(PERSISTENT_REASON))
def test_persistent_fault_is_dead_lettered_after_bounded_attempts(server, llm_config, fault):
    server.settings.faults = always(fault)
    with LLMEngine(llm_config()) as engine:
        [result] = engine.run(echo_requests(["beta"]))
    assert not result.ok
    assert result.reason == PERSISTENT_REASON[fault]
    assert result.text is None and result.detail
    assert result.reject_reason == f"llm_{PERSISTENT_REASON[fault]}"
    assert result.attempts == 4
    # Once the circuit is open, probes go out too; a failed probe counts against the endpoint, not the call.
    assert 4 <= server.count <= 4 + 3


def test_client_error_fails_the_row_at_once(server, llm_config):
    server.settings.faults = always(BAD_REQUEST, when=lambda request: "bad" in request.last_user_message())
    with LLMEngine(llm_config()) as engine:
        bad, good = engine.run(echo_requests(["bad", "good"]))
    assert bad.reason == reasons.CLIENT_ERROR and bad.attempts == 1
    assert "400" in bad.detail and "invalid request" in bad.raw
    assert good.ok
    assert server.count == 2


def test_retry_after_is_honoured(server, llm_config):
    server.settings.faults = fail_first(RATE_LIMIT)
    server.settings.retry_after = 0.6
    with LLMEngine(llm_config()) as engine:
        [result] = engine.run(echo_requests(["gamma"]))
    assert result.ok
    first, second = server.log
    # The retry may not arrive before the announced wait is over (the backoff alone is < 0.05 s).
    assert second.arrival - first.answered >= 0.6 * 0.95


def test_total_retry_time_is_bounded(server, llm_config):
    # Each attempt takes at least the server's 0.2 s and a 0.05 s backoff, so a 0.3 s budget leaves room
    # for at most 3 attempts however slow the machine is (a slow one makes fewer), not the 1,000 allowed.
    server.settings.faults = always(SERVER_ERROR)
    server.settings.latency = 0.2
    policy = RetryPolicy(max_attempts=1000, max_total_s=0.3, initial_backoff_s=0.05, max_backoff_s=0.05)
    with LLMEngine(llm_config(retry=policy)) as engine:
        [result] = engine.run(echo_requests(["delta"]))
    assert result.reason == reasons.SERVER_ERROR
    assert 1 <= result.attempts <= 3
    assert len(server.log) == result.attempts


def test_requests_in_flight_are_bounded_per_worker(server, llm_config):
    server.settings.latency = 0.1
    with LLMEngine(llm_config(max_in_flight=3)) as engine:
        results = engine.run(echo_requests([f"w{i}" for i in range(12)]))
    assert all(result.ok for result in results)
    events = sorted([(entry.arrival, 1) for entry in server.log] + [(entry.answered, -1) for entry in server.log])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak <= 3


def test_valid_json_reply_is_parsed(server, llm_config):
    server.settings.reply = lambda body: {"score": 4}
    with LLMEngine(llm_config()) as engine:
        [result] = engine.run([LLMRequest(id="a", template=SCORE, variables={"word": "x"})])
    assert result.ok and result.data == {"score": 4}
    response_format = server.log[0].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"]["required"] == ["score"]


def test_invalid_reply_gets_one_repair_then_succeeds(server, llm_config):
    def reply(body):
        return {"score": 3} if len(body["messages"]) > 2 else "I think it is a 3."

    server.settings.reply = reply
    with LLMEngine(llm_config()) as engine:
        [result] = engine.run([LLMRequest(id="a", template=SCORE, variables={"word": "x"})])
        ledger = engine.ledger()
    assert result.ok and result.data == {"score": 3}
    assert result.attempts == 2 and ledger["repairs"] == 1
    repair = server.log[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": "I think it is a 3."}
    assert "could not be used" in repair[-1]["content"]


def test_reply_failing_the_schema_is_dead_lettered_with_raw_reply(server, llm_config):
    server.settings.reply = lambda body: {"score": 9}
    with LLMEngine(llm_config()) as engine:
        [result] = engine.run([LLMRequest(id="a", template=SCORE, variables={"word": "x"})])
    assert result.reason == reasons.SCHEMA_MISMATCH
    assert result.raw == '{"score": 9}'
    assert "score" in result.detail
    assert server.count == 2  # the request and one repair, no more


def test_garbled_reply_is_dead_lettered_as_invalid_json(server, llm_config):
    server.settings.faults = always(GARBLED_REPLY)
    with LLMEngine(llm_config()) as engine:
        [result] = engine.run([LLMRequest(id="a", template=SCORE, variables={"word": "x"})])
    assert result.reason == reasons.INVALID_JSON
    assert result.raw.startswith("Sure!")


def test_empty_reply_is_a_dead_letter_never_an_empty_answer(server, llm_config):
    server.settings.reply = lambda body: ""
    with LLMEngine(llm_config()) as engine:
        [text, scored] = engine.run(
            [
                LLMRequest(id="t", template=ECHO, variables={"word": "x"}),
                LLMRequest(id="s", template=SCORE, variables={"word": "x"}),
            ]
        )
    assert text.reason == reasons.EMPTY_REPLY and text.text is None
    assert scored.reason == reasons.EMPTY_REPLY and scored.data is None


def test_prompt_structured_output_describes_the_schema_in_the_prompt(server, llm_config):
    server.settings.reply = lambda body: "```json\n{\"score\": 2}\n```"
    with LLMEngine(llm_config(structured_output="prompt")) as engine:
        [result] = engine.run([LLMRequest(id="a", template=SCORE, variables={"word": "x"})])
    assert result.ok and result.data == {"score": 2}
    body = server.log[0].body
    assert "response_format" not in body
    assert '"required": ["score"]' in body["messages"][0]["content"]


def test_missing_placeholder_is_a_dead_letter_without_a_request(server, llm_config):
    with LLMEngine(llm_config()) as engine:
        [result] = engine.run([LLMRequest(id="a", template=ECHO, variables={})])
    assert result.reason == reasons.PROMPT_ERROR and "word" in result.detail
    assert server.count == 0


def test_duplicate_ids_are_refused(llm_config):
    with LLMEngine(llm_config()) as engine, pytest.raises(ValueError, match="duplicate"):
        engine.run(echo_requests(["same", "same"]))


def test_every_row_is_accounted_for_under_mixed_faults(server, llm_config):
    from tests.support.openai_server import fault_fraction

    server.settings.faults = fault_fraction(0.5, persistent=(SERVER_ERROR, BAD_REQUEST))
    words = [f"w{i}" for i in range(60)]
    with LLMEngine(llm_config(max_in_flight=16)) as engine:
        results = engine.run(echo_requests(words))
        ledger = engine.ledger()
    answered = [result for result in results if result.ok]
    dead = [result for result in results if not result.ok]
    assert len(answered) + len(dead) == 60
    # A 401 is the endpoint refusing the key (endpoint_error), not retried; a 400 is about the request.
    assert {result.reason for result in dead} <= {reasons.SERVER_ERROR, reasons.CLIENT_ERROR, reasons.ENDPOINT_ERROR}
    assert dead, "the persistent faults must produce dead letters"
    assert ledger["answered"] == len(answered) and ledger["dead_lettered"] == len(dead)
    assert ledger["requests"] == server.count
