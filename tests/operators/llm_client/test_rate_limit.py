"""Cluster-wide rate limits: two Ray workers share one limiter, checked on the server's arrival log."""

from __future__ import annotations

import pytest
from sftforge.operators.llm_client import LLMService, PromptTemplate, RateLimits

pytestmark = pytest.mark.ray

TEMPLATE = PromptTemplate(name="test.rate", version="1", messages=(("user", "say {word}"),))


class Worker:
    """One worker of an LLM stage: its own engine, the run's shared coordinator."""

    def __init__(self, config):
        from sftforge.operators.llm_client import LLMEngine

        self.engine = LLMEngine(config, stage="rate_test")

    def run(self, words):
        from sftforge.operators.llm_client import LLMRequest

        results = self.engine.run([LLMRequest(id=w, template=TEMPLATE, variables={"word": w}) for w in words])
        return [result.ok for result in results]


def most_in_any_window(arrivals, window):
    arrivals = sorted(arrivals)
    most = 0
    end = 0
    for start in range(len(arrivals)):
        while end < len(arrivals) and arrivals[end] < arrivals[start] + window:
            end += 1
        most = max(most, end - start)
    return most


def test_two_workers_together_respect_requests_per_minute(ray_session, server, llm_config):
    import time

    ray = ray_session
    limits = RateLimits(requests_per_minute=600, burst_s=0.5)  # 10 requests/s, bursts of 5
    config = llm_config(limits=limits, max_in_flight=16)
    with LLMService(config, run_id="rate-limit-test") as service:
        remote = ray.remote(num_cpus=0.25)(Worker)
        workers = [remote.remote(service.config) for _ in range(2)]
        ray.get([worker.__ray_ready__.remote() for worker in workers])
        batches = [[f"{i}-{j}" for j in range(20)] for i in range(2)]
        launched = time.monotonic()  # the server's clock
        outcomes = ray.get([worker.run.remote(batch) for worker, batch in zip(workers, batches)])
        report = service.report()
        for worker in workers:
            ray.kill(worker)
    assert all(all(batch) for batch in outcomes)
    arrivals = sorted(entry.arrival for entry in server.log)
    assert len(arrivals) == 40
    # Unlimited, 2 x 16 requests in flight arrive together. Limited, the k-th request cannot arrive
    # before the bucket (full at launch) has refilled for it; delays only make requests later, so
    # this bound holds however loaded the machine is.
    for k, arrival in enumerate(arrivals, start=1):
        assert arrival >= launched + (k - 5) / 10 - 0.01, f"request {k} arrived {arrival - launched:.2f}s after launch"
    # And no stretch of the run is a burst: no window of w seconds holds much more than the burst plus
    # w seconds' worth (slack for requests, or the server's own bookkeeping, delayed by a busy machine).
    for window in (0.5, 1.0, 2.0):
        assert most_in_any_window(arrivals, window) <= 5 + 10 * window + 4
    assert report["ledger"]["stages"]["rate_test"]["requests"] == 40


def test_retry_after_pauses_every_worker(ray_session, server, llm_config):
    from tests.support.openai_server import RATE_LIMIT, fail_first

    ray = ray_session
    server.settings.retry_after = 1.0
    server.settings.latency = 0.1
    server.settings.faults = fail_first(RATE_LIMIT, when=lambda request: request.last_user_message() == "say 0-0")
    config = llm_config(limits=RateLimits(requests_per_minute=6000), max_in_flight=1)
    with LLMService(config, run_id="retry-after-test") as service:
        remote = ray.remote(num_cpus=0.25)(Worker)
        workers = [remote.remote(service.config) for _ in range(2)]
        ray.get([worker.run.remote(["warm"]) if i else worker.run.remote(["warm0"]) for i, worker in enumerate(workers)])
        server.reset()
        outcomes = ray.get(
            [worker.run.remote([f"{i}-{j}" for j in range(6)]) for i, worker in enumerate(workers)]
        )
        for worker in workers:
            ray.kill(worker)
    assert all(all(batch) for batch in outcomes)
    limited = next(entry for entry in server.log if entry.fault == RATE_LIMIT)
    # Each request takes 0.1 s, so unpaused the other worker would send ~9 requests in the next second;
    # paused, at most one it had already been admitted for arrives before the Retry-After is over.
    during = [e for e in server.log if limited.answered + 0.05 < e.arrival < limited.answered + 0.95]
    after = [e for e in server.log if e.arrival >= limited.answered + 0.95]
    assert len(during) <= 1
    assert len(after) >= 6
