"""Rate limits and budget with a fake clock: the arithmetic, without servers or time."""

from __future__ import annotations

from sftforge.operators.llm_client import Budget, Price, RateLimits
from sftforge.operators.llm_client.coordinator import Coordinator, TokenBucket, estimate_tokens


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def send_times(coordinator, clock, count, tokens=0):
    """When each of ``count`` requests admitted at the same instant may go out."""
    return [clock.now + coordinator.admit(tokens, 0).wait_s for _ in range(count)]


def test_bucket_allows_its_capacity_then_spaces_requests_at_the_rate():
    clock = FakeClock()
    coordinator = Coordinator(RateLimits(requests_per_minute=600, burst_s=0.5), clock=clock)  # 10/s, burst 5
    times = send_times(coordinator, clock, 15)
    assert times[:5] == [0.0] * 5
    assert [round(t, 6) for t in times[5:]] == [round(0.1 * i, 6) for i in range(1, 11)]


def test_no_window_exceeds_capacity_plus_rate():
    clock = FakeClock()
    coordinator = Coordinator(RateLimits(requests_per_minute=1200, burst_s=1.0), clock=clock)  # 20/s
    times = []
    for step in range(50):
        clock.now = step * 0.037
        times += send_times(coordinator, clock, 3)
    times.sort()
    for i, start in enumerate(times):
        for window in (0.25, 1.0, 2.0):
            inside = sum(1 for t in times[i:] if t < start + window)
            assert inside <= 20 * 1.0 + 20 * window + 1e-9


def test_tokens_per_minute_limit_uses_the_worst_case_then_gives_back_the_rest():
    clock = FakeClock()
    coordinator = Coordinator(RateLimits(tokens_per_minute=6000, burst_s=1.0), clock=clock)  # 100 tokens/s
    first = coordinator.admit(20, 80)
    second = coordinator.admit(20, 80)
    assert first.wait_s == 0 and second.wait_s == 1.0
    coordinator.settle(first.ticket, 20, 10)
    third = coordinator.admit(20, 10)
    assert third.wait_s < 1.0  # the unused 70 tokens came back


def test_pause_holds_every_request():
    clock = FakeClock()
    coordinator = Coordinator(RateLimits(requests_per_minute=6000), clock=clock)
    coordinator.pause(2.0)
    assert coordinator.admit(0, 0).wait_s == 2.0
    clock.now = 1.5
    assert coordinator.admit(0, 0).wait_s == 0.5


def test_budget_refuses_what_it_cannot_cover_and_stays_closed():
    coordinator = Coordinator(budget=Budget(max_tokens=250))
    first = coordinator.admit(50, 50)
    second = coordinator.admit(50, 50)
    assert first.allowed and second.allowed
    assert not coordinator.admit(50, 50).allowed  # 300 > 250 reserved worst case
    coordinator.settle(first.ticket, 10, 10)
    coordinator.settle(second.ticket, 10, 10)
    assert not coordinator.admit(1, 1).allowed  # closed: a run stops cleanly rather than trickling
    snapshot = coordinator.snapshot()["budget"]
    assert snapshot["spent_tokens"] == 40 and snapshot["exhausted"] and snapshot["refused_requests"] == 2


def test_money_budget_uses_the_price_table():
    price = Price(prompt_per_million=1_000_000, completion_per_million=2_000_000)  # 1 and 2 per token
    coordinator = Coordinator(budget=Budget(max_cost=10), price=price)
    admitted = coordinator.admit(2, 4)  # worst case 2 + 8 = 10
    assert admitted.allowed
    coordinator.settle(admitted.ticket, 2, 1)  # spent 4
    assert coordinator.admit(2, 2).allowed  # worst 6, 4 + 6 = 10
    assert not coordinator.admit(1, 0).allowed


def test_failed_requests_release_their_reservation():
    coordinator = Coordinator(budget=Budget(max_tokens=100))
    admitted = coordinator.admit(50, 50)
    coordinator.settle(admitted.ticket, 0, 0)
    assert coordinator.admit(50, 50).allowed


def test_ledger_sums_per_stage_and_in_total_with_cost():
    coordinator = Coordinator(price=Price(prompt_per_million=1.0, completion_per_million=2.0))
    coordinator.record("judge", {"calls": 2, "prompt_tokens": 1_000_000, "completion_tokens": 0})
    coordinator.record("judge", {"calls": 1, "completion_tokens": 500_000})
    coordinator.record("self_instruct", {"calls": 4, "prompt_tokens": 10})
    snapshot = coordinator.snapshot()
    assert snapshot["stages"]["judge"]["calls"] == 3
    assert snapshot["stages"]["judge"]["cost"] == 2.0
    assert snapshot["total"]["calls"] == 7 and snapshot["total"]["prompt_tokens"] == 1_000_010


def test_bucket_overdraw_is_paid_back_at_the_rate():
    bucket = TokenBucket(rate=2.0, capacity=2.0, now=0.0)
    assert bucket.take(2, 0.0) == 0.0
    assert bucket.take(1, 0.0) == 0.5
    assert bucket.take(1, 1.0) == 0.0  # refilled 2 since, level back to 0 after this take


def test_token_estimate_counts_cjk_per_character():
    assert estimate_tokens([{"content": "abcd" * 10}]) == 4 + 10
    assert estimate_tokens([{"content": "你好世界"}]) == 4 + 4
