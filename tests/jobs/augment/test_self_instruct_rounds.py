"""Self-Instruct rounds: how a reply is taken (a truncated reply keeps its complete items; a failed call is
a dead letter, an endpoint failure never)."""

from __future__ import annotations

from sftforge.jobs.augment.checkpoints import BatchOutput
from sftforge.jobs.augment.self_instruct_rounds import usable_reply
from sftforge.operators.llm_client import LLMResult
from sftforge.operators.llm_client.request import CONNECTION_ERROR, EMPTY_REPLY, TRUNCATED


def test_answers_and_truncated_replies_are_used_and_failed_calls_are_recorded():
    output = BatchOutput()

    assert usable_reply(output, LLMResult("a", text="1. Name a sea."), "generate", "cut") == ("1. Name a sea.", False)
    cut = LLMResult("b", reason=TRUNCATED, raw="1. Name a sea.\n2. Name a")
    assert usable_reply(output, cut, "generate", "cut") == ("1. Name a sea.\n2. Name a", True)
    assert usable_reply(output, LLMResult("c", reason=TRUNCATED), "generate", "cut") is None
    assert usable_reply(output, LLMResult("d", reason=EMPTY_REPLY), "instances", "cut") is None
    assert usable_reply(output, LLMResult("e", reason=CONNECTION_ERROR), "instances", "cut") is None

    assert output.counters["cut"] == 1
    assert [(letter.step, letter.reason) for letter in output.dead] == [
        ("generate", "llm_truncated"),
        ("instances", "llm_empty_reply"),
    ]
    assert (output.endpoint_failures, output.last_failure) == (1, CONNECTION_ERROR)
