"""Prompt templates and the parsing of structured replies: pure functions, plain values."""

from __future__ import annotations

import pytest
from sftforge.operators.llm_client import PromptError, PromptTemplate
from sftforge.operators.llm_client.structured import check_schema, extract_json, parse_reply

SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}, "why": {"type": "string"}},
    "required": ["score", "why"],
}
TEMPLATE = PromptTemplate(
    name="t", version="1", schema=SCHEMA,
    messages=(("system", "You judge."), ("user", "Judge {text} ({{literal braces}})")),
)


def test_render_fills_placeholders_verbatim():
    messages = TEMPLATE.render({"text": "a {b} c"}, "json_schema")
    assert messages == [
        {"role": "system", "content": "You judge."},
        {"role": "user", "content": "Judge a {b} c ({literal braces})"},
    ]


def test_render_names_missing_placeholders():
    with pytest.raises(PromptError, match="text"):
        TEMPLATE.render({}, "json_schema")


@pytest.mark.parametrize("mode", ["json_object", "prompt"])
def test_schema_goes_into_the_prompt_when_the_endpoint_is_not_told(mode):
    system = TEMPLATE.render({"text": "x"}, mode)[0]["content"]
    assert system.startswith("You judge.") and '"required": ["score", "why"]' in system


def test_response_format_per_mode():
    assert TEMPLATE.response_format("json_schema")["json_schema"]["schema"] == SCHEMA
    assert TEMPLATE.response_format("json_object_schema") == {"type": "json_object", "schema": SCHEMA}
    assert TEMPLATE.response_format("json_object") == {"type": "json_object"}
    assert TEMPLATE.response_format("prompt") is None
    free = PromptTemplate(name="f", version="1", messages=(("user", "hi"),))
    assert free.response_format("json_schema") is None


def test_malformed_templates_fail_at_definition():
    with pytest.raises(PromptError):
        PromptTemplate(name="t", version="1", messages=(("robot", "hi"),))
    with pytest.raises(PromptError):
        PromptTemplate(name="t", version="1", messages=(("user", "{a.b}"),))
    with pytest.raises(PromptError):
        PromptTemplate(name="", version="1", messages=(("user", "hi"),))


def test_extract_json_finds_json_in_fences_and_prose():
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('Here you go: {"a": {"b": [1, 2]}} hope it helps') == {"a": {"b": [1, 2]}}
    with pytest.raises(ValueError):
        extract_json("no json at all {oops")


def test_parse_reply_validates_against_the_schema():
    assert parse_reply('{"score": 3, "why": "ok"}', SCHEMA).data == {"score": 3, "why": "ok"}
    out_of_range = parse_reply('{"score": 7, "why": "ok"}', SCHEMA)
    assert out_of_range.reason == "schema_mismatch" and out_of_range.error.startswith("score:")
    missing = parse_reply('{"score": 3}', SCHEMA)
    assert missing.reason == "schema_mismatch" and "why" in missing.error
    assert parse_reply("three", SCHEMA).reason == "invalid_json"


def test_invalid_schema_is_named():
    with pytest.raises(ValueError, match="invalid JSON schema"):
        check_schema({"type": "nonsense"})
