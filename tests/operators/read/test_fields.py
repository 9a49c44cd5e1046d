"""Record values to content fields: conversations, missing values, types, numbers, Unicode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sftforge.operators import schema
from sftforge.operators.read.errors import Rejected
from sftforge.operators.read.fields import as_text, normalise_messages

from tests.support.read_inputs import live, read_spec, rejected, write_jsonl, write_parquet


def test_sharegpt_conversations_are_normalised_to_messages(tmp_path: Path):
    conversations = [
        {"from": "system", "value": "你是一个助手。"},
        {"from": "human", "value": "你好"},
        {"from": "gpt", "value": "你好！有什么可以帮你？"},
    ]
    jsonl = write_jsonl(tmp_path / "sharegpt.jsonl", [{"id": "x", "conversations": conversations}])
    parquet = write_parquet(tmp_path / "sharegpt.parquet", {"conversations": [conversations]})

    rows = live(read_spec(path=[str(jsonl), str(parquet)], kind="instruction"))

    expected = [
        {"role": "system", "content": "你是一个助手。"},
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "你好！有什么可以帮你？"},
    ]
    assert [row["messages"] for row in rows] == [expected, expected]
    assert rows[0]["doc_id"] == rows[1]["doc_id"]
    assert (rows[0]["system"], rows[0]["instruction"], rows[0]["output"]) == (
        "你是一个助手。",
        "你好",
        "你好！有什么可以帮你？",
    )


def test_conversations_without_both_sides_are_rejected(tmp_path: Path):
    path = write_jsonl(
        tmp_path / "chat.jsonl",
        [
            {"messages": [{"role": "user", "content": "Anyone there?"}]},
            {"messages": [{"role": "assistant", "content": "Hello."}]},
            {"messages": []},
            {"messages": "not json"},
            {"messages": [{"content": "no role"}]},
        ],
    )

    rows = read_spec(path=str(path), kind="instruction").to_pylist()
    reasons = [row["reject_reason"] for row in rows]

    assert reasons[:3] == ["missing_output", "missing_instruction", "missing_messages"]
    assert rows[0]["messages"] == [{"role": "user", "content": "Anyone there?"}]
    assert rows[0]["instruction"] == "Anyone there?"
    assert reasons[3].startswith("invalid_messages: not JSON")
    assert reasons[4] == "invalid_messages: turn 0 has no role"


def test_null_and_empty_text_are_rejected_rows(tmp_path: Path):
    jsonl = write_jsonl(tmp_path / "a.jsonl", [{"text": None}, {"text": ""}, {"text": " \n"}, {"text": "ok"}])
    parquet = write_parquet(tmp_path / "b.parquet", {"text": [None, "", "ok"]})

    table = read_spec(path=[str(jsonl), str(parquet)], kind="document")

    assert [(r["source_row"], r["reject_stage"], r["reject_reason"]) for r in rejected(table)] == [
        (0, "read", "null_text"),
        (1, "read", "empty_text"),
        (2, "read", "empty_text"),
        (0, "read", "null_text"),
        (1, "read", "empty_text"),
    ]
    assert [r["text"] for r in live(table)] == ["ok", "ok"]
    assert len({r["doc_id"] for r in rejected(table)}) == 5


def test_missing_instruction_or_output_values_are_rejected_rows(tmp_path: Path):
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"instruction": "q", "output": None},
            {"instruction": "", "output": "a"},
            {"instruction": "q", "output": "  "},
            {"instruction": "q"},
        ],
    )

    rows = read_spec(path=str(path), kind="instruction").to_pylist()

    assert [r["reject_reason"] for r in rows] == [
        "missing_output",
        "missing_instruction",
        "missing_output",
        "missing_output",
    ]
    assert rows[0]["instruction"] == "q"


def test_one_unconvertible_row_is_rejected_naming_the_problem_and_file_row(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"instruction": "Add two and two.", "output": "Four."})
    lines = [
        good,
        "[" * 10_000 + "]" * 10_000,  # nesting deeper than Python's recursion limit
        '{"instruction": "Count.", "output": ' + "9" * 5000 + "}",  # 5,000-digit integer
        '{"instruction": "Big.", "output": 1e999}',  # float overflow -> inf
        '{"instruction": "Odd.", "output": "fine", "messages_unused": 1, "system": "\\ud800"}',  # lone surrogate
        good.replace("two", "three"),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_spec(path=str(path), kind="instruction")
    assert table.num_rows == 6
    reasons = dict(
        zip(table.column(schema.SOURCE_ROW).to_pylist(), table.column(schema.REJECT_REASON).to_pylist())
    )
    assert reasons[0] is None and reasons[5] is None
    assert reasons[1] == "invalid_json: nesting too deep (RecursionError) at bad.jsonl:1"
    assert reasons[2] == "invalid_json: integer too large (over 4300 digits) at bad.jsonl:2"
    assert reasons[3] == "invalid_number: output is inf (overflow or not a number)"
    assert reasons[4] == "invalid_unicode: lone surrogate"
    assert set(table.column(schema.SOURCE_FILE).to_pylist()) == {"bad.jsonl"}


def test_values_become_text_or_name_why_not():
    assert (as_text(None, "output"), as_text(3, "output"), as_text(True, "output")) == (None, "3", "true")
    with pytest.raises(Rejected, match="invalid_type: output is list"):
        as_text(["a"], "output")
    assert normalise_messages('[{"from": "Human", "value": "hi"}, {"role": "bot", "content": null}]') == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": ""},
    ]
