"""The hard budget: requests that do not fit are never sent, and every row is accounted for."""

from __future__ import annotations

from sftforge.operators.llm_client import (
    BUDGET_EXHAUSTED,
    Budget,
    LLMEngine,
    LLMRequest,
    LLMService,
    Price,
    PromptTemplate,
)

TEMPLATE = PromptTemplate(name="test.budget", version="1", messages=(("user", "say {word}"),))


def requests(count):
    return [LLMRequest(id=f"w{i}", template=TEMPLATE, variables={"word": f"w{i}"}) for i in range(count)]


def test_budget_stops_new_requests_cleanly(server, llm_config):
    # Each request reserves 6 (prompt estimate) + 10 (max_tokens) and really uses 5 + 3 tokens.
    config = llm_config(max_tokens=10, max_in_flight=1, budget=Budget(max_tokens=100))
    with LLMService(config, run_id="budget-test") as service, LLMEngine(service.config, stage="s") as engine:
        results = engine.run(requests(20))
        report = service.report()
    answered = [result for result in results if result.ok]
    refused = [result for result in results if not result.ok]
    assert len(answered) == 11 and len(refused) == 9
    assert all(result.reason == BUDGET_EXHAUSTED and result.attempts == 0 for result in refused)
    assert all(result.reject_reason == "llm_budget_exhausted" for result in refused)
    assert server.count == len(answered)
    assert report["budget"]["exhausted"] and report["budget"]["spent_tokens"] == 88  # of 100
    ledger = report["ledger"]["stages"]["s"]
    assert ledger["answered"] + ledger["dead_lettered"] == ledger["calls"] == 20
    assert ledger["dead_letter.budget_exhausted"] == 9


def test_money_budget_with_concurrency_never_overspends(server, llm_config):
    price = Price(prompt_per_million=2_000_000, completion_per_million=4_000_000)  # 2 and 4 per token
    config = llm_config(max_tokens=10, max_in_flight=8, prices={"test-model": price}, budget=Budget(max_cost=500))
    with LLMService(config, run_id="budget-money") as service, LLMEngine(service.config, stage="s") as engine:
        results = engine.run(requests(50))
        report = service.report()
    answered = sum(result.ok for result in results)
    refused = sum(result.reason == BUDGET_EXHAUSTED for result in results)
    assert answered + refused == 50 and answered > 0 and refused > 0
    assert server.count == answered
    assert report["budget"]["spent_cost"] <= 500
    assert report["ledger"]["total"]["cost"] == answered * (5 * 2 + 3 * 4)
