"""Self-Instruct rounds: how a reply is taken (a truncated reply keeps its complete items; a failed call is
a dead letter, an endpoint failure never), and a round hit by endpoint failures (never checkpointed, asked
again by the next run), with the progress line."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sftforge.jobs.augment.checkpoints import BatchOutput
from sftforge.jobs.augment.driver import ProgressBoard
from sftforge.jobs.augment.self_instruct_rounds import SelfInstructGenerator, usable_reply
from sftforge.operators.augment import self_instruct as si
from sftforge.operators.llm_client import EndpointOutage, LLMConfig, LLMResult, RetryPolicy
from sftforge.operators.llm_client.request import CONNECTION_ERROR, EMPTY_REPLY, TRUNCATED

from tests.support import augment_model
from tests.support.openai_server import SERVER_ERROR, OpenAITestServer, always


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


# --- Rounds against a real server (one worker in this process when Ray is not running) ---------------

ROOT = Path(__file__).resolve().parents[3]
SEEDS = str(ROOT / "jobs" / "demo" / "seed_tasks.jsonl")


def _llm(server, tmp_path, **overrides) -> LLMConfig:
    retry = RetryPolicy(max_attempts=1, max_total_s=10, initial_backoff_s=0.01, max_backoff_s=0.02)
    values = {"base_url": server.url, "model": "test-model", "api_key_env": None, "seed": 0,
              "cache": str(tmp_path / "cache"), "retry": retry, "max_in_flight": 4, "timeout_s": 5}
    return LLMConfig(**{**values, **overrides})


def _generator(server, tmp_path, **overrides) -> SelfInstructGenerator:
    config = si.SelfInstructConfig(seed_tasks=SEEDS, target_rows=8, prompts_per_batch=2, languages=["en"])
    generator = SelfInstructGenerator(config, _llm(server, tmp_path, **overrides), tmp_path / "work")
    generator.resume()
    return generator


def test_endpoint_failures_stop_a_round_unwritten_and_a_rerun_asks_it_again(tmp_path, capsys):
    with OpenAITestServer(reply=augment_model.reply) as server:
        server.settings.faults = always(SERVER_ERROR)
        with pytest.raises(EndpointOutage) as raised:
            _generator(server, tmp_path).run(ProgressBoard(False))
        assert raised.value.stage == "augment.self_instruct"
        kept = _generator(server, tmp_path, on_failure="keep")
        kept.run(ProgressBoard(False))
        assert kept.outcome.rows == 0 and "endpoint failures (server_error) in round 0" in kept.outcome.stopped
        assert kept.outcome.counters["calls_failed_endpoint"] == 2 and not kept.checkpoints.finished()
        server.settings.faults = None
        again = _generator(server, tmp_path)
        again.run(ProgressBoard(False))
    assert again.outcome.rows == 8 and again.outcome.stopped is None
    assert not any(letter["reason"] == SERVER_ERROR for part in again.outcome.dead_parts
                   for letter in pq.read_table(part).to_pylist())
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("augment self_instruct: 8/8 rows, ") and "req/s" in line and line.endswith("ETA done")
