"""The LLM judge against a real chat-completions server scripted to reply with judgements."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from sftforge.operators import schema
from sftforge.operators.judge.judge import (
    JUDGE_TEMPLATE_EN,
    JUDGE_TEMPLATE_ZH,
    REASON_BELOW_THRESHOLD,
    JudgeConfig,
    LLMJudge,
    judge_report_section,
    pair_texts,
    score_histogram,
)
from sftforge.operators.llm_client import LLMConfig, RetryPolicy

from tests.support.openai_server import OpenAITestServer


def judgement(overall: int, harmless: int = 5, honest: int = 4, helpful: int = 3) -> dict:
    return {
        "harmless": {"score": harmless, "rationale": "nothing harmful"},
        "honest": {"score": honest, "rationale": "accurate\nenough"},
        "helpful": {"score": helpful, "rationale": "answers the question"},
        "overall": overall,
    }


def scripted(body: dict):
    """Scores each pair by a digit hidden in its response, so a test decides the judgement per row."""
    user = "\n".join(message["content"] for message in body["messages"] if message["role"] == "user")
    if "BROKEN" in user:
        return "I'd rate this pretty well!"
    for digit in "12345":
        if f"score-{digit}" in user:
            return judgement(int(digit))
    return judgement(3)


@pytest.fixture
def server():
    with OpenAITestServer(reply=scripted) as running:
        yield running


def llm(server) -> LLMConfig:
    return LLMConfig(
        base_url=server.url, model="judge-model", api_key_env=None, timeout_s=2,
        retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05),
    )


def pairs(*rows) -> pa.Table:
    columns = {
        schema.DOC_ID: [f"d{i}" for i in range(len(rows))],
        schema.KIND: [row.get("kind", schema.KIND_INSTRUCTION) for row in rows],
        schema.TEXT: [row.get("text") for row in rows],
        schema.INSTRUCTION: [row.get("instruction") for row in rows],
        schema.INPUT: [row.get("input") for row in rows],
        schema.OUTPUT: [row.get("output") for row in rows],
    }
    if any("lang" in row for row in rows):
        columns[schema.LANG] = [row.get("lang") for row in rows]
    return pa.table(columns)


def test_keeps_rows_at_or_above_the_threshold_with_scores_as_columns(server):
    stage = LLMJudge(JudgeConfig(threshold=4), llm(server))
    table = pairs(
        {"instruction": "Name a prime.", "output": "7 score-5"},
        {"instruction": "Name a colour.", "output": "blue score-4"},
        {"instruction": "Say hi.", "output": "meh score-2"},
    )
    result = stage(table)
    assert result.kept.column(schema.DOC_ID).to_pylist() == ["d0", "d1"]
    assert result.kept.column(schema.JUDGE_OVERALL).to_pylist() == [5, 4]
    assert result.kept.column(schema.JUDGE_SCORE).to_pylist() == [5.0, 4.0]
    assert result.kept.column(schema.JUDGE_HARMLESS).to_pylist() == [5, 5]
    assert result.kept.column(schema.JUDGE_MODEL).to_pylist()[0] == "judge-model judge.hhh.en@1"
    rationale = json.loads(result.kept.column(schema.JUDGE_RATIONALE)[0].as_py())
    assert rationale == {"harmless": "nothing harmful", "honest": "accurate enough", "helpful": "answers the question"}
    assert result.rejected.column(schema.REJECT_REASON).to_pylist() == [REASON_BELOW_THRESHOLD]
    assert result.rejected.column(schema.JUDGE_OVERALL).to_pylist() == [2]  # scores travel with rejects
    for column, type_ in schema.JUDGE_TYPES.items():
        assert result.kept.schema.field(column).type == type_


@pytest.mark.parametrize(("how", "expected"), [("overall", 5.0), ("mean", 4.0), ("min", 3.0)])
def test_score_used_for_the_threshold(server, how, expected):
    stage = LLMJudge(JudgeConfig(threshold=1, score=how), llm(server))
    result = stage(pairs({"instruction": "q", "output": "a score-5"}))
    assert result.kept.column(schema.JUDGE_SCORE).to_pylist() == [expected]


def test_prompt_language_follows_lang_then_script(server):
    stage = LLMJudge(JudgeConfig(threshold=1), llm(server))
    stage(
        pairs(
            {"instruction": "把这句话翻译成英文。", "output": "Hello."},  # no lang column: CJK script
            {"instruction": "Translate to French.", "output": "Bonjour."},
        )
    )
    systems = [entry.body["messages"][0]["content"] for entry in server.log]
    assert systems == [JUDGE_TEMPLATE_ZH.messages[0][1], JUDGE_TEMPLATE_EN.messages[0][1]]
    server.reset()
    stage(pairs({"instruction": "Say it in English", "output": "ok", "lang": "zh"}, {"instruction": "好", "output": "好", "lang": "en"}))
    systems = [entry.body["messages"][0]["content"] for entry in server.log]
    assert systems == [JUDGE_TEMPLATE_ZH.messages[0][1], JUDGE_TEMPLATE_EN.messages[0][1]]


def test_request_shows_instruction_input_and_response_and_the_schema(server):
    stage = LLMJudge(JudgeConfig(threshold=1), llm(server))
    stage(pairs({"instruction": "Sum these.", "input": "2 and 3", "output": "5"}))
    body = server.log[0].body
    user = body["messages"][-1]["content"]
    assert "### Instruction\nSum these.\n\n2 and 3\n\n### Response\n5" in user
    assert body["response_format"]["json_schema"]["name"] == "hhh_judgement"


def test_unusable_judgement_rejects_the_row_with_the_engine_reason(server):
    stage = LLMJudge(JudgeConfig(threshold=1), llm(server))
    result = stage(pairs({"instruction": "q", "output": "BROKEN"}, {"instruction": "q2", "output": "fine score-4"}))
    assert result.rejected.column(schema.REJECT_REASON).to_pylist() == ["llm_invalid_json"]
    assert result.rejected.column(schema.JUDGE_SCORE).to_pylist() == [None]
    letter = json.loads(result.rejected.column(schema.LLM_DEAD_LETTER)[0].as_py())
    assert letter["reason"] == "invalid_json" and letter["raw"] == "I'd rate this pretty well!"
    assert letter["template"] == "judge.hhh.en@1" and letter["attempts"] == 2
    assert result.kept.column(schema.LLM_DEAD_LETTER).to_pylist() == [None]
    assert result.kept.num_rows == 1
    assert server.count == 3  # the broken reply got one repair request


def test_documents_pass_through_unjudged(server):
    stage = LLMJudge(JudgeConfig(threshold=5), llm(server))
    result = stage(pairs({"kind": schema.KIND_DOCUMENT, "text": "A raw document."}))
    assert result.kept.num_rows == 1 and result.kept.column(schema.JUDGE_SCORE).to_pylist() == [None]
    assert server.count == 0


def test_multi_turn_rows_are_judged_on_their_turns():
    table = pa.table(
        {
            schema.MESSAGES: pa.array(
                [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"},
                  {"role": "assistant", "content": "Hello."}]],
                type=schema.MESSAGES_TYPE,
            )
        }
    )
    assert pair_texts(table) == (["Hi?"], ["Hello."])


def test_report_section_and_histogram():
    assert score_histogram([5, 4, 4, None, 1]) == {"1": 1, "2": 0, "3": 0, "4": 2, "5": 1, "unscored": 1}
    llm_report = {
        "backend": "openai", "model": "m", "skipped": None,
        "cache": {"url": "/c", "hits": 2, "misses": 3},
        "ledger": {
            "stages": {"judge": {"calls": 5, "requests": 4, "prompt_tokens": 100, "completion_tokens": 20, "cost": 0.5}},
            "total": {"calls": 5, "answered": 4, "dead_lettered": 1, "dead_letter.invalid_json": 1, "requests": 4,
                      "prompt_tokens": 100, "completion_tokens": 20, "cost": 0.5},
        },
        "budget": None,
    }
    section = judge_report_section(llm_report, [5, 4, None], threshold=4)
    assert section["cache"] == {"url": "/c", "hits": 2, "misses": 3}
    assert section["dead_letters"] == {"invalid_json": 1}
    assert section["per_stage"]["judge"]["cost"] == 0.5
    assert section["judge"] == {"threshold": 4, "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1, "unscored": 1}}
