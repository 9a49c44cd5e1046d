"""Column mapping: aliases, explicit mappings, pairs, conversations, and missing columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from sftforge.operators import schema
from sftforge.operators.read.columns import resolve_columns
from sftforge.operators.read.errors import InputError
from sftforge.operators.read.planning import plan_read_units
from sftforge.operators.read.reader import read_table
from sftforge.operators.read.spec import InputSpec

from tests.support.read_inputs import live, read_spec, write_jsonl, write_parquet


def test_alpaca_rows(tmp_path: Path):
    path = write_jsonl(
        tmp_path / "alpaca.jsonl",
        [
            {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
            {"instruction": "Name a colour.", "input": "", "output": "Blue"},
        ],
    )

    rows = read_spec(path=str(path), kind="instruction").to_pylist()

    assert [(r["instruction"], r["input"], r["output"]) for r in rows] == [
        ("Translate to French.", "Good morning", "Bonjour"),
        ("Name a colour.", "", "Blue"),
    ]
    assert {r[schema.KIND] for r in rows} == {schema.KIND_INSTRUCTION}
    assert all(r[schema.TEXT] is None and r[schema.MESSAGES] is None for r in rows)


def test_coig_cqia_rows_ignore_metadata_columns(tmp_path: Path):
    record = {
        "instruction": "解释成语“画蛇添足”。",
        "input": "",
        "output": "比喻做了多余的事，反而不恰当。",
        "task_type": {"major": ["问答"], "minor": ["成语释义"]},
        "domain": ["通用"],
        "metadata": "暂无元数据信息",
        "answer_from": "llm",
        "human_verified": True,
        "copyright": "暂无版权及作者信息",
    }
    path = write_jsonl(tmp_path / "coig.jsonl", [record])

    (row,) = live(read_spec(path=str(path), kind="instruction"))

    assert (row["instruction"], row["input"], row["output"]) == (
        record["instruction"],
        "",
        record["output"],
    )


@pytest.mark.parametrize(
    ("question", "answer"), [("question", "answer"), ("query", "response"), ("prompt", "completion")]
)
def test_question_answer_styles(tmp_path: Path, question: str, answer: str):
    path = write_jsonl(tmp_path / "qa.jsonl", [{"id": 1, question: "为什么天是蓝的？", answer: "瑞利散射。"}])

    (row,) = live(read_spec(path=str(path), kind="instruction"))

    assert (row["instruction"], row["input"], row["output"]) == ("为什么天是蓝的？", None, "瑞利散射。")


def test_explicit_column_mapping(tmp_path: Path):
    path = write_parquet(tmp_path / "custom.parquet", {"q": ["2+2?"], "a": ["4"], "sys": ["Be brief."]})

    (row,) = live(
        read_spec(
            path=str(path),
            kind="instruction",
            columns={"instruction": "q", "output": "a", "system": "sys"},
        )
    )

    assert (row["system"], row["instruction"], row["output"]) == ("Be brief.", "2+2?", "4")


def test_messages_rows(tmp_path: Path):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Tell me a joke."},
        {"role": "assistant", "content": "Why did the chicken cross the road?"},
    ]
    path = write_jsonl(tmp_path / "chat.jsonl", [{"prompt": "Hi", "messages": messages}])

    (row,) = live(read_spec(path=str(path), kind="instruction"))

    assert row["messages"] == messages
    assert (row["system"], row["instruction"], row["output"]) == (
        "You are helpful.",
        "Hi",
        "Why did the chicken cross the road?",
    )


def test_document_content_column_is_recognised(tmp_path: Path):
    path = write_parquet(tmp_path / "c.parquet", {"content": ["from content"], "meta": [1]})

    assert read_spec(path=str(path), kind="document").column(schema.TEXT).to_pylist() == ["from content"]


def test_optional_fields_are_read_from_each_record(tmp_path: Path):
    path = write_jsonl(
        tmp_path / "i.jsonl",
        [
            {"instruction": "a", "output": "c"},
            {"instruction": "a", "input": "b", "output": "c", "system": "s"},
        ],
    )

    rows = read_spec(path=str(path), kind="instruction").to_pylist()

    assert [(r["system"], r["input"]) for r in rows] == [(None, None), ("s", "b")]


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
def test_missing_text_column_names_file_column_and_columns_present(tmp_path: Path, suffix: str):
    path = tmp_path / f"notext.{suffix}"
    if suffix == "parquet":
        write_parquet(path, {"body": ["a"], "url": ["u"]})
    else:
        write_jsonl(path, [{"body": "a", "url": "u"}])

    (unit,) = plan_read_units(InputSpec(path=str(path), kind="document"))
    with pytest.raises(InputError) as error:
        read_table(unit)

    message = str(error.value)
    assert str(path) in message
    assert "no 'text' column" in message and "columns present: body, url" in message


def test_missing_configured_column(tmp_path: Path):
    path = write_parquet(tmp_path / "qa.parquet", {"question": ["q"], "answer": ["a"]})

    (unit,) = plan_read_units(
        InputSpec(path=str(path), kind="instruction", columns={"instruction": "prompt", "output": "answer"})
    )
    with pytest.raises(InputError) as error:
        read_table(unit)

    assert str(error.value) == (
        f"{path}: configured column 'prompt' (for 'instruction') is missing; columns present: question, answer"
    )


def test_missing_output_column(tmp_path: Path):
    path = write_jsonl(tmp_path / "seed.jsonl", [{"instruction": "q", "instances": []}])

    (unit,) = plan_read_units(InputSpec(path=str(path), kind="instruction"))
    with pytest.raises(InputError, match="no 'output' column.*columns present: instruction, instances"):
        read_table(unit)


def test_rows_of_a_merged_file_are_mapped_by_their_own_keys(tmp_path):
    path = write_jsonl(
        tmp_path / "merged.jsonl",
        [
            {"question": "What is two plus two?", "answer": "Four."},
            {"instruction": "Name a colour.", "input": "", "output": "Blue."},
            {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]},
            {"foo": "bar", "baz": 1},
        ],
    )
    table = read_spec(path=str(path), kind="instruction")
    rows = table.to_pylist()
    assert [r["reject_reason"] for r in rows[:3]] == [None, None, None]
    assert [r["output"] for r in rows[:3]] == ["Four.", "Blue.", "Hello!"]
    assert rows[3]["reject_reason"] == "unmapped_row: no usable columns; keys found: baz, foo"


def test_resolve_columns_prefers_a_conversation_and_keeps_optional_candidates():
    plan = resolve_columns("instruction", {}, ["prompt", "messages", "system_prompt"], "x.jsonl")
    assert plan.sources == {"messages": ("messages",), "system": ("system_prompt",)}
    assert plan.conversation

    per_record = resolve_columns(
        "instruction", {}, ["question", "answer"], "x.jsonl", optional_per_record=True
    )
    assert per_record.sources["input"] == ("input", "context")
    assert per_record.values({"question": "q", "answer": "a", "context": "c"}) == {
        "instruction": "q",
        "output": "a",
        "input": "c",
        "system": None,
    }
