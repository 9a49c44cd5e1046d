from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from sftforge.operators import schema
from sftforge.operators.write.formats import (
    RECORD_SCHEMAS,
    OutputConfig,
    RecordError,
    SFTFormatter,
    ShardWriter,
    document_mask,
    empty_strings_for_nulls,
    file_sha256,
    validate_records,
    with_metadata,
)

MULTI_TURN = [
    {"role": "system", "content": "你是一位诗人。"},
    {"role": "user", "content": "写一句关于春天的诗"},
    {"role": "assistant", "content": "春眠不觉晓"},
    {"role": "user", "content": "再来一句"},
    {"role": "assistant", "content": "处处闻啼鸟"},
]


def _rows(**columns) -> pa.Table:
    count = len(next(iter(columns.values())))
    base = {
        schema.DOC_ID: [f"id-{i}" for i in range(count)],
        schema.KIND: [schema.KIND_INSTRUCTION] * count,
        schema.INSTRUCTION: [None] * count,
        schema.INPUT: [None] * count,
        schema.OUTPUT: [None] * count,
        schema.SYSTEM: [None] * count,
        schema.MESSAGES: [None] * count,
        schema.TEXT: [None] * count,
    }
    base.update(columns)
    types = {name: schema.BASE_SCHEMA.field(name).type for name in base if name in schema.BASE_SCHEMA.names}
    return pa.table({name: pa.array(values, types.get(name)) for name, values in base.items()})


def _config(tmp_path, **overrides) -> OutputConfig:
    return OutputConfig(dir=str(tmp_path), **overrides)


def _single_and_multi_turn() -> pa.Table:
    return _rows(
        instruction=["翻译成英文", "Say hi", None],
        input=["你好，世界", "", None],
        output=["Hello, world", "hi", None],
        system=[None, "Be brief.", None],
        messages=[None, None, MULTI_TURN],
        lang=["zh", "en", "zh"],
        quality_score=[0.9, 0.5, None],
    )


def test_messages_format(tmp_path):
    batch = SFTFormatter(_config(tmp_path, system_prompt="You are helpful."))
    records = batch.format_instructions(_single_and_multi_turn()).records.to_pylist()
    assert records[0][schema.MESSAGES] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "翻译成英文\n\n你好，世界"},
        {"role": "assistant", "content": "Hello, world"},
    ]
    # The row's own system prompt wins over the configured one, and an empty input adds nothing.
    assert records[1][schema.MESSAGES] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi"},
        {"role": "assistant", "content": "hi"},
    ]
    assert records[2][schema.MESSAGES] == MULTI_TURN
    assert [r[schema.DOC_ID] for r in records] == ["id-0", "id-1", "id-2"]
    assert [r[schema.LANG] for r in records] == ["zh", "en", "zh"]


def test_no_system_message_without_a_system_prompt(tmp_path):
    records = SFTFormatter(_config(tmp_path)).format_instructions(_single_and_multi_turn()).records
    first = records.column(schema.MESSAGES)[0].as_py()
    assert [turn["role"] for turn in first] == ["user", "assistant"]


def test_alpaca_format_with_history_for_multi_turn(tmp_path):
    records = SFTFormatter(_config(tmp_path, sft_format="alpaca")).format_instructions(
        _single_and_multi_turn()
    )
    rows = records.records.to_pylist()
    assert {k: rows[0][k] for k in ("instruction", "input", "output", "system", "history")} == {
        "instruction": "翻译成英文",
        "input": "你好，世界",
        "output": "Hello, world",
        "system": "",  # an empty value is "" in every shard, never null
        "history": [],
    }
    assert rows[1]["system"] == "Be brief."
    assert {k: rows[2][k] for k in ("instruction", "input", "output", "system", "history")} == {
        "instruction": "再来一句",
        "input": "",
        "output": "处处闻啼鸟",
        "system": "你是一位诗人。",
        "history": [["写一句关于春天的诗", "春眠不觉晓"]],
    }


def test_sharegpt_format(tmp_path):
    records = SFTFormatter(_config(tmp_path, sft_format="sharegpt", system_prompt="S")).format_instructions(
        _single_and_multi_turn()
    )
    rows = records.records.to_pylist()
    assert rows[0]["conversations"] == [
        {"from": "system", "value": "S"},
        {"from": "human", "value": "翻译成英文\n\n你好，世界"},
        {"from": "gpt", "value": "Hello, world"},
    ]
    assert [turn["from"] for turn in rows[2]["conversations"]] == ["system", "human", "gpt", "human", "gpt"]


def test_each_format_has_its_declared_schema(tmp_path):
    for fmt in ("messages", "alpaca", "sharegpt"):
        records = (
            SFTFormatter(_config(tmp_path, sft_format=fmt, keep_metadata=False))
            .format_instructions(_single_and_multi_turn())
            .records
        )
        assert records.schema.equals(RECORD_SCHEMAS[fmt])


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ({"instruction": [""], "output": ["x"]}, "instruction is empty"),
        ({"instruction": ["q"], "output": [None]}, "output is empty"),
        ({"instruction": ["q"], "output": ["   "]}, "output is empty"),
        ({"messages": [[{"role": "user", "content": "hi"}]]}, "ends with a user turn"),
        (
            {"messages": [[{"role": "assistant", "content": "hi"}, {"role": "user", "content": "x"}]]},
            "alternate",
        ),
        ({"messages": [[{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]]}, "role 'tool'"),
        (
            {"messages": [[{"role": "user", "content": "a"}, {"role": "assistant", "content": None}]]},
            "no content",
        ),
        ({"messages": [[{"role": "system", "content": "only a system prompt"}]]}, "no user or assistant"),
        (
            {
                "messages": [
                    [
                        {"role": "user", "content": "a"},
                        {"role": "system", "content": "b"},
                        {"role": "assistant", "content": "c"},
                    ]
                ]
            },
            "system message after",
        ),
    ],
)
def test_rows_that_cannot_be_conversations_are_rejected_with_a_reason(tmp_path, columns, reason):
    table = _rows(**columns)
    for fmt in ("messages", "alpaca", "sharegpt"):
        result = SFTFormatter(_config(tmp_path, sft_format=fmt)).format_instructions(table)
        assert result.records.num_rows == 0
        assert result.written.to_pylist() == [False]
        [got] = result.rejected.column(schema.REJECT_REASON).to_pylist()
        assert reason in got and fmt in got
        assert result.rejected.column(schema.DOC_ID).to_pylist() == ["id-0"]


def test_vectorised_and_turn_by_turn_paths_agree(tmp_path):
    rng = random.Random(3)

    def text():
        return rng.choice([None, "", "  ", "写诗", "hi", "a\nb", "Q?"])

    messages = []
    for _ in range(1500):
        if rng.random() < 0.6:
            messages.append(None if rng.random() < 0.9 else [])
            continue
        turns = [{"role": "system", "content": text()}] if rng.random() < 0.3 else []
        for k in range(rng.randint(0, 5)):
            role = (
                rng.choice(["user", "assistant"])
                if rng.random() < 0.2
                else ("user" if k % 2 == 0 else "assistant")
            )
            turns.append({"role": role, "content": text()})
        messages.append(turns)
    count = len(messages)
    table = _rows(
        instruction=[text() for _ in range(count)],
        input=[text() for _ in range(count)],
        output=[text() for _ in range(count)],
        system=[text() for _ in range(count)],
        messages=messages,
        quality_score=[rng.random() for _ in range(count)],
    )
    custom = {"turn": "{{Q}} {question}|{answer}{{/}}", "system": "<{system}>", "separator": "~"}
    for fmt, template in (("messages", {}), ("alpaca", {}), ("sharegpt", {}), ("text", {}), ("text", custom)):
        for system_prompt in (None, "SYS"):
            config = _config(tmp_path, sft_format=fmt, system_prompt=system_prompt, text_template=template)
            formatter = SFTFormatter(config)
            fast = formatter.format_instructions(table)
            slow, reasons = formatter._turn_by_turn(table)
            slow = with_metadata(slow, table.filter(pa.array([reason is None for reason in reasons])))
            slow = empty_strings_for_nulls(slow)
            assert fast.records.equals(slow)
            assert fast.rejected.column(schema.REJECT_REASON).to_pylist() == [r for r in reasons if r]
            assert 0 < fast.records.num_rows < count


def test_documents_are_text_and_metadata_not_chat(tmp_path):
    table = _rows(
        kind=[schema.KIND_DOCUMENT] * 3,
        text=["一篇关于长江的文章。", "", None],
        lang=["zh", "zh", None],
        source_file=["a.parquet", "a.parquet", "b.jsonl"],
        source_row=[0, 1, 0],
    )
    result = SFTFormatter(_config(tmp_path)).format_documents(table)
    assert result.records.to_pylist() == [
        {
            "text": "一篇关于长江的文章。",
            "doc_id": "id-0",
            "lang": "zh",
            "source_file": "a.parquet",
            "source_row": 0,
        }
    ]
    assert (
        result.rejected.column(schema.REJECT_REASON).to_pylist()
        == ["cannot write document: text is empty"] * 2
    )


def test_document_mask_uses_kind_or_falls_back_to_content():
    with_kind = _rows(kind=["document", "instruction", None])
    assert document_mask(with_kind).to_pylist() == [True, False, False]
    without_kind = pa.table({"doc_id": ["a", "b"], "instruction": ["q", None], "text": [None, "t"]})
    assert document_mask(without_kind).to_pylist() == [False, True]


def test_metadata_is_optional_and_nan_scores_become_null(tmp_path):
    table = _single_and_multi_turn()
    table = table.set_column(
        table.column_names.index(schema.QUALITY_SCORE),
        schema.QUALITY_SCORE,
        pa.array([float("nan"), 1.0, None]),
    )
    kept = SFTFormatter(_config(tmp_path)).format_instructions(table).records
    assert kept.column(schema.QUALITY_SCORE).to_pylist() == [None, 1.0, None]
    bare = SFTFormatter(_config(tmp_path, keep_metadata=False)).format_instructions(table).records
    assert bare.column_names == [schema.MESSAGES]


BAD_CONVERSATIONS = {
    "ends with user": [[{"role": "user", "content": "q"}]],
    "starts with assistant": [[{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]],
    "null content": [[{"role": "user", "content": "q"}, {"role": "assistant", "content": None}]],
    "blank content": [[{"role": "user", "content": " "}, {"role": "assistant", "content": "a"}]],
    "unknown role": [[{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]],
    "empty": [[]],
    "null conversation": [None],
    "system in the middle": [
        [
            {"role": "user", "content": "q"},
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
        ]
    ],
}


@pytest.mark.parametrize("case", sorted(BAD_CONVERSATIONS))
def test_validation_refuses_conversations_that_break_the_format(case):
    table = pa.table({schema.MESSAGES: pa.array(BAD_CONVERSATIONS[case], schema.MESSAGES_TYPE)})
    with pytest.raises(RecordError):
        validate_records(table, "messages")


def test_validation_catches_records_that_break_the_format():
    good = pa.table(
        {
            schema.MESSAGES: pa.array(
                [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]],
                schema.MESSAGES_TYPE,
            )
        }
    )
    validate_records(good, "messages")
    with pytest.raises(RecordError, match="field 0"):
        validate_records(pa.table({"conversation": ["x"]}), "sharegpt")
    with pytest.raises(RecordError, match="unexpected column"):
        validate_records(good.append_column("api_key", pa.array(["x"])), "messages")
    alpaca = RECORD_SCHEMAS["alpaca"]
    with pytest.raises(RecordError, match="pairs"):
        validate_records(
            pa.table(
                {
                    "instruction": ["q"],
                    "input": [""],
                    "output": ["a"],
                    "system": [None],
                    "history": [[["only one"]]],
                },
                schema=alpaca,
            ),
            "alpaca",
        )
    with pytest.raises(RecordError, match="output"):
        validate_records(
            pa.table(
                {"instruction": ["q"], "input": [""], "output": [""], "system": [None], "history": [[]]},
                schema=alpaca,
            ),
            "alpaca",
        )


def _instruction_records(count: int, tmp_path, fmt: str = "messages") -> pa.Table:
    table = _rows(
        instruction=[f"问题 {i}：长江有多长？" for i in range(count)],
        input=["" for _ in range(count)],
        output=[f"回答 {i}：约 6300 公里。" for i in range(count)],
    )
    return SFTFormatter(_config(tmp_path, sft_format=fmt)).format_instructions(table).records


@pytest.mark.parametrize("fmt", ["messages", "alpaca", "sharegpt"])
def test_round_trip_jsonl_and_parquet(tmp_path, fmt):
    records = _instruction_records(25, tmp_path, fmt)
    with ShardWriter(tmp_path / fmt, shard_rows=10) as writer:
        for start in range(0, 25, 7):
            writer.write(records.slice(start, 7))
    files = writer.close()
    parquet = [f for f in files if f.format == "parquet"]
    jsonl = [f for f in files if f.format == "jsonl"]
    assert [f.path.name for f in parquet] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert [f.path.name for f in jsonl] == ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
    assert [f.rows for f in parquet] == [10, 10, 5] == [f.rows for f in jsonl]

    from_parquet = [row for f in parquet for row in pq.read_table(f.path).to_pylist()]
    raw = b"".join(f.path.read_bytes() for f in jsonl)
    from_jsonl = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert from_parquet == from_jsonl == records.to_pylist()
    assert "长江有多长".encode() in raw and b"\\u" not in raw
    for f in files:
        assert f.bytes == f.path.stat().st_size
        assert f.sha256 == file_sha256(f.path)


def test_output_config_validation(tmp_path):
    assert OutputConfig(dir=f"file://{tmp_path}").dir == str(tmp_path)
    assert OutputConfig(dir="s3://bucket/releases").dir == "s3://bucket/releases"  # object stores are a target
    for bad in (
        {"dir": "  "},
        {"dir": str(tmp_path), "file_formats": []},
        {"dir": str(tmp_path), "file_formats": ["parquet", "parquet"]},
        {"dir": str(tmp_path), "file_formats": ["csv"]},
        {"dir": str(tmp_path), "shard_rows": 0},
        {"dir": str(tmp_path), "sft_format": "chatml"},
        {"dir": str(tmp_path), "shard_size": 10},
    ):
        with pytest.raises(ValidationError):
            OutputConfig(**bad)
