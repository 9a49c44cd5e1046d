"""Several endpoints and the circuit breaker, against real test servers (and a closed port)."""

from __future__ import annotations

import socket

from sftforge.operators.llm_client import LLMEngine, LLMRequest, PromptTemplate
from sftforge.operators.llm_client import request as reasons
from sftforge.operators.llm_client.config import CircuitPolicy, RetryPolicy
from sftforge.operators.llm_client.endpoints import EndpointPool
from sftforge.operators.llm_client.service import endpoint_ledger

from tests.support.openai_server import SERVER_ERROR, OpenAITestServer, always

ECHO = PromptTemplate(name="test.endpoints", version="1", messages=(("user", "say {word}"),))
QUICK = RetryPolicy(max_attempts=4, max_total_s=20, initial_backoff_s=0.01, max_backoff_s=0.02)


def requests(words):
    return [LLMRequest(id=word, template=ECHO, variables={"word": word}) for word in words]


def closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


def test_requests_spread_across_healthy_endpoints(llm_config):
    with OpenAITestServer() as one, OpenAITestServer() as two, LLMEngine(llm_config(base_url=[one.url, two.url])) as engine:
            results = engine.run(requests([f"w{i}" for i in range(40)]))
            ledger = engine.ledger()
    assert all(result.ok for result in results)
    assert one.count > 5 and two.count > 5 and one.count + two.count == 40
    per_endpoint = endpoint_ledger(ledger)
    assert per_endpoint[one.url]["requests"] == one.count and per_endpoint[two.url]["requests"] == two.count


def test_a_dead_endpoint_is_taken_out_and_the_other_answers_everything(llm_config):
    dead = closed_url()
    with OpenAITestServer() as alive:
        config = llm_config(base_url=[dead, alive.url], retry=QUICK, circuit=CircuitPolicy(failures=2, cooldown_s=60))
        with LLMEngine(config) as engine:
            results = engine.run(requests([f"w{i}" for i in range(40)]))
            ledger = endpoint_ledger(engine.ledger())
    assert all(result.ok for result in results)
    assert alive.count == 40
    # Only the requests already on their way when it failed twice went there (at most max_in_flight).
    assert ledger[dead]["failures"] <= 8 and ledger[dead]["opened"] == 1


def test_calls_fail_fast_once_every_endpoint_is_known_dead(llm_config):
    policy = RetryPolicy(max_attempts=6, max_total_s=600, initial_backoff_s=0.01, max_backoff_s=0.02)
    config = llm_config(base_url=closed_url(), retry=policy, max_in_flight=2,
                        circuit=CircuitPolicy(failures=2, cooldown_s=0.05, max_cooldown_s=0.1, give_up_s=0.5))
    with LLMEngine(config) as engine:
        results = engine.run(requests([f"w{i}" for i in range(50)]))
        ledger = engine.ledger()
    assert all(result.reason == reasons.CONNECTION_ERROR for result in results)
    # Without the breaker every call would make 6 attempts (300 requests); with it, most make none.
    assert ledger["requests"] < 100
    assert any("circuit open" in result.detail for result in results)


def test_an_endpoint_that_answers_again_is_used_again(llm_config):
    with OpenAITestServer() as server:
        server.settings.faults = always(SERVER_ERROR)
        config = llm_config(base_url=server.url, retry=QUICK, max_in_flight=1,
                            circuit=CircuitPolicy(failures=2, cooldown_s=0.05, max_cooldown_s=0.05, give_up_s=60))
        with LLMEngine(config) as engine:
            first = engine.run(requests(["a", "b"]))
            server.settings.faults = None
            second = engine.run(requests(["c", "d"]))
            events = endpoint_ledger(engine.ledger())[server.url]
    assert all(result.reason == reasons.SERVER_ERROR for result in first)
    assert all(result.ok for result in second)
    assert events["opened"] == 1 and events["closed"] == 1


def test_pool_round_robin_and_probe_order():
    clock = [0.0]
    pool = EndpointPool(["http://a/v1", "http://b/v1"], CircuitPolicy(failures=1, cooldown_s=1.0),
                        clock=lambda: clock[0])
    assert [pool.pick().base_url for _ in range(4)] == ["http://a/v1", "http://b/v1"] * 2
    a, b = pool.endpoints
    pool.failed(a, reasons.CONNECTION_ERROR, "refused")
    assert [pool.pick().base_url for _ in range(3)] == ["http://b/v1"] * 3
    pool.failed(b, reasons.CONNECTION_ERROR, "refused")
    assert pool.pick() is None  # both open, no probe due yet
    clock[0] = 1.5
    probe = pool.pick()
    assert probe is a and pool.pick() is b and pool.pick() is None  # one probe per endpoint at a time
    pool.succeeded(a)
    assert pool.pick() is a
    pool.failed(b, reasons.CLIENT_ERROR, "400")  # an answer, even a 4xx, closes the circuit
    assert b.closed
