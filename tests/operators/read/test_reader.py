"""Readers: every format, column mapping, stable ids, lineage, and every kind of bad input."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from sftforge.operators import schema
from sftforge.operators.read.reader import (
    BATCH_ROWS,
    InputError,
    InputSpec,
    ReadUnit,
    plan_read_units,
    read_table,
    read_unit,
)

DOCS = ["First document.", "第二篇文档，中文内容。", "Third one, with a comma."]


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), "utf-8")
    return path


def write_parquet(path: Path, columns: dict, row_group_size: int | None = None) -> Path:
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def read_spec(**spec) -> pa.Table:
    tables = [read_table(unit) for unit in plan_read_units(InputSpec(**spec))]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def live(table: pa.Table) -> list[dict]:
    return [row for row in table.to_pylist() if row[schema.REJECT_STAGE] is None]


def rejected(table: pa.Table) -> list[dict]:
    return [row for row in table.to_pylist() if row[schema.REJECT_STAGE] is not None]


# --- formats and path forms ---------------------------------------------------------------------------


@pytest.fixture
def doc_shards(tmp_path: Path) -> Path:
    """The same three documents as JSONL, Parquet and a JSON array, in one directory."""
    shards = tmp_path / "shards"
    shards.mkdir()
    write_jsonl(shards / "a.jsonl", [{"text": text, "url": f"u{i}"} for i, text in enumerate(DOCS)])
    write_parquet(shards / "b.parquet", {"text": DOCS, "url": ["x"] * 3})
    (shards / "c.json").write_text(json.dumps([{"text": text} for text in DOCS], ensure_ascii=False))
    (shards / "_SUCCESS").write_text("")
    (shards / ".hidden.jsonl").write_text("not json\n")
    return shards


def test_each_format_reads_to_the_same_rows(doc_shards: Path):
    table = read_spec(path=str(doc_shards), kind="document")

    assert table.schema == schema.BASE_SCHEMA
    assert rejected(table) == []
    by_file: dict[str, list[str]] = {}
    for row in table.to_pylist():
        by_file.setdefault(Path(row[schema.SOURCE_FILE]).name, []).append(row[schema.TEXT])
    assert by_file == {"a.jsonl": DOCS, "b.parquet": DOCS, "c.json": DOCS}
    ids = table.column(schema.DOC_ID).to_pylist()
    assert ids[0:3] == ids[3:6] == ids[6:9]
    assert len(set(ids)) == 3


def test_directory_glob_and_list_find_the_same_files(doc_shards: Path):
    def files(path) -> list[str]:
        return [unit.path for unit in plan_read_units(InputSpec(path=path, kind="document"))]

    every = [str(doc_shards / name) for name in ("a.jsonl", "b.parquet", "c.json")]
    assert files(str(doc_shards)) == every
    assert files(str(doc_shards / "*")) == every
    assert files(str(doc_shards / "*.jsonl")) == every[:1]
    assert files([str(doc_shards / "c.json"), str(doc_shards / "a.jsonl")]) == [every[2], every[0]]
    assert files([every[0], str(doc_shards / "*.jsonl")]) == every[:1]


def test_units_carry_size_format_and_label(doc_shards: Path):
    units = plan_read_units(InputSpec(path=str(doc_shards), kind="document", name="web"))

    assert [unit.format for unit in units] == ["jsonl", "parquet", "json"]
    assert [unit.size for unit in units] == [
        (doc_shards / name).stat().st_size for name in ("a.jsonl", "b.parquet", "c.json")
    ]
    assert {unit.spec_name for unit in units} == {"web"}
    assert all(ReadUnit.from_row(unit.to_row()) == unit for unit in units)


def test_compressed_jsonl_and_json_lines_named_json(tmp_path: Path):
    lines = "".join(json.dumps({"text": text}, ensure_ascii=False) + "\n" for text in DOCS).encode()
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(lines))
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(lines)
    (tmp_path / "b.ndjson.zst").write_bytes(sink.getvalue().to_pybytes())
    (tmp_path / "c.json").write_bytes(lines)

    table = read_spec(path=str(tmp_path), kind="document")

    assert table.column(schema.TEXT).to_pylist() == DOCS * 3
    assert rejected(table) == []


def test_truncated_compressed_file_names_the_file(tmp_path: Path):
    data = gzip.compress(b"".join(json.dumps({"text": f"row {i}"}).encode() + b"\n" for i in range(5000)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])

    (unit,) = plan_read_units(InputSpec(path=str(path), kind="document"))
    with pytest.raises(InputError, match="cannot read the file") as error:
        read_table(unit)

    assert error.value.path == str(path)


def test_explicit_format_reads_files_without_a_known_extension(tmp_path: Path):
    write_jsonl(tmp_path / "part-0.txt", [{"text": "hello"}])

    with pytest.raises(InputError, match="cannot infer the format") as error:
        plan_read_units(InputSpec(path=str(tmp_path / "part-0.txt"), kind="document"))
    assert error.value.path.endswith("part-0.txt")
    table = read_spec(path=str(tmp_path / "part-0.txt"), kind="document", format="jsonl")
    assert table.column(schema.TEXT).to_pylist() == ["hello"]


def test_fsspec_urls_are_read(tmp_path: Path):
    import fsspec

    fs = fsspec.filesystem("memory")
    with fs.open("/sftforge-test/docs/a.jsonl", "wb") as handle:
        handle.write(b'{"text": "in memory"}\n')
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"text": ["parquet in memory"]}), sink)
    with fs.open("/sftforge-test/docs/b.parquet", "wb") as handle:
        handle.write(sink.getvalue().to_pybytes())
    write_parquet(tmp_path / "c.parquet", {"text": ["on disk"]})
    try:
        table = read_spec(
            path=["memory://sftforge-test/docs/*", f"file://{tmp_path}/c.parquet"], kind="document"
        )
    finally:
        fs.rm("/sftforge-test", recursive=True)

    assert table.column(schema.TEXT).to_pylist() == ["in memory", "parquet in memory", "on disk"]
    assert table.column(schema.SOURCE_FILE).to_pylist() == [
        "memory:///sftforge-test/docs/a.jsonl",
        "memory:///sftforge-test/docs/b.parquet",
        "c.parquet",  # lineage: relative to the configured path's root, never the mount point
    ]


def test_parquet_splits_into_row_group_units_with_file_row_indices(tmp_path: Path):
    texts = [f"row {i}" for i in range(10)]
    path = write_parquet(tmp_path / "p.parquet", {"text": texts}, row_group_size=3)

    units = plan_read_units(InputSpec(path=str(path), kind="document"), max_unit_rows=4)

    assert [unit.row_groups for unit in units] == [(0,), (1,), (2, 3)]
    assert [unit.first_row for unit in units] == [0, 3, 6]
    rows = [row for unit in units for row in read_table(unit).to_pylist()]
    assert [row[schema.SOURCE_ROW] for row in rows] == list(range(10))
    assert [row[schema.TEXT] for row in rows] == texts


def test_batches_are_bounded(tmp_path: Path):
    count = BATCH_ROWS * 2 + 5
    path = write_jsonl(tmp_path / "many.jsonl", [{"text": f"document {i}"} for i in range(count)])

    (unit,) = plan_read_units(InputSpec(path=str(path), kind="document"))
    sizes = [batch.num_rows for batch in read_unit(unit)]

    assert sum(sizes) == count
    assert max(sizes) <= BATCH_ROWS


# --- column mapping -----------------------------------------------------------------------------------


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


def test_document_content_column_is_recognised(tmp_path: Path):
    path = write_parquet(tmp_path / "c.parquet", {"content": ["from content"], "meta": [1]})

    assert read_spec(path=str(path), kind="document").column(schema.TEXT).to_pylist() == ["from content"]


# --- identity and lineage -----------------------------------------------------------------------------


def test_doc_id_is_a_stable_content_hash(tmp_path: Path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"text": "same"}, {"text": "other"}])
    b = write_parquet(tmp_path / "b.parquet", {"text": ["x", "same"]})
    pairs = write_jsonl(tmp_path / "i.jsonl", [{"instruction": "same", "output": "o"}])

    first = read_spec(path=[str(a), str(b)], kind="document").to_pylist()
    again = read_spec(path=[str(a), str(b)], kind="document").to_pylist()
    pair = read_spec(path=str(pairs), kind="instruction").to_pylist()

    ids = {(Path(r["source_file"]).name, r["text"]): r["doc_id"] for r in first}
    assert ids[("a.jsonl", "same")] == ids[("b.parquet", "same")]
    assert len({ids[("a.jsonl", "same")], ids[("a.jsonl", "other")], ids[("b.parquet", "x")]}) == 3
    assert [r["doc_id"] for r in first] == [r["doc_id"] for r in again]
    assert pair[0]["doc_id"] not in ids.values()
    assert all(len(r["doc_id"]) == 32 for r in first)


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


def test_instruction_id_depends_on_every_field(tmp_path: Path):
    path = write_jsonl(
        tmp_path / "i.jsonl",
        [
            {"instruction": "a", "input": "b", "output": "c"},
            {"instruction": "ab", "input": "", "output": "c"},
            {"instruction": "a", "input": "b", "output": "c", "system": "s"},
            {"instruction": "a", "input": "b", "output": "c"},
        ],
    )

    ids = read_spec(path=str(path), kind="instruction").column(schema.DOC_ID).to_pylist()

    assert len(set(ids[:3])) == 3
    assert ids[3] == ids[0]


def test_lineage_columns(tmp_path: Path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": "one"}, {"text": "two"}])

    rows = read_spec(path=str(path), kind="document").to_pylist()

    assert [(r["source_file"], r["source_row"], r["origin"], r["kind"], r["parent_id"]) for r in rows] == [
        ("a.jsonl", 0, "source", "document", None),
        ("a.jsonl", 1, "source", "document", None),
    ]


# --- bad input ----------------------------------------------------------------------------------------


def test_corrupt_parquet_fails_at_plan_time_naming_the_file(tmp_path: Path):
    good = write_parquet(tmp_path / "good.parquet", {"text": ["fine"]})
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[:-12] + b"garbage!PAR1")

    with pytest.raises(InputError) as error:
        plan_read_units(InputSpec(path=str(tmp_path), kind="document"))

    assert error.value.path == str(bad)
    assert str(bad) in str(error.value) and "not a readable Parquet file" in str(error.value)


def test_parquet_with_corrupt_pages_fails_at_read_time_naming_the_file(tmp_path: Path):
    path = write_parquet(tmp_path / "pages.parquet", {"text": ["x" * 1000 for _ in range(50)]})
    data = bytearray(path.read_bytes())
    data[8:400] = b"\xff" * 392  # page data and header, footer intact
    path.write_bytes(bytes(data))

    (unit,) = plan_read_units(InputSpec(path=str(path), kind="document"))
    with pytest.raises(InputError) as error:
        read_table(unit)

    assert error.value.path == str(path)


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


def test_invalid_utf8_in_jsonl_rejects_that_line_only(tmp_path: Path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"text": "good one"}\n{"text": "bad \xff\xfe bytes"}\n{"text": "good two"}\n')

    table = read_spec(path=str(path), kind="document")

    assert [r["text"] for r in live(table)] == ["good one", "good two"]
    (bad,) = rejected(table)
    assert bad["source_row"] == 1
    assert bad["reject_reason"].startswith("invalid_utf8")
    assert "bad \ufffd\ufffd bytes" in bad["text"]


def test_invalid_utf8_in_parquet_rejects_that_row(tmp_path: Path):
    path = write_parquet(tmp_path / "bin.parquet", {"text": pa.array([b"fine", b"bro\xc3ken"], pa.binary())})

    table = read_spec(path=str(path), kind="document")

    assert [r["text"] for r in live(table)] == ["fine"]
    assert [(r["source_row"], r["reject_reason"]) for r in rejected(table)] == [
        (1, "invalid_utf8: column text")
    ]


def test_invalid_json_lines_and_non_objects_are_rejected_rows(tmp_path: Path):
    path = tmp_path / "broken.jsonl"
    path.write_text(
        '{"text": "ok"}\n{"text": "unterminated\n[1, 2]\n\n{"text": {"nested": 1}}\n{"text": 7}\n'
    )

    rows = read_spec(path=str(path), kind="document").to_pylist()

    assert [r["reject_reason"] for r in rows] == [
        None,
        "invalid_json: Unterminated string starting at: column 10",
        "not_an_object: list",
        "empty_line",
        "invalid_type: text is dict",
        None,
    ]
    assert rows[1]["text"] == '{"text": "unterminated'
    assert rows[5]["text"] == "7"


def test_twenty_megabyte_row_is_rejected_without_reading_it_whole(tmp_path: Path):
    huge = "x" * (20 * 1024 * 1024)
    jsonl = tmp_path / "huge.jsonl"
    with jsonl.open("w") as handle:
        handle.write(json.dumps({"text": "before"}) + "\n")
        handle.write(json.dumps({"text": huge}) + "\n")
        handle.write(json.dumps({"text": "after"}) + "\n")
    parquet = write_parquet(tmp_path / "huge.parquet", {"text": ["small", huge]})

    table = read_spec(path=[str(jsonl), str(parquet)], kind="document")

    assert [r["text"] for r in live(table)] == ["before", "after", "small"]
    reasons = [(Path(r["source_file"]).name, r["source_row"], r["reject_reason"]) for r in rejected(table)]
    assert reasons == [
        ("huge.jsonl", 1, f"row_too_large: {len(huge) + 12} bytes > 8388608"),
        ("huge.parquet", 1, f"row_too_large: {len(huge)} bytes > 8388608"),
    ]
    assert all(0 < len(r["text"]) <= 4096 for r in rejected(table))


def test_oversized_conversation_keeps_a_bounded_preview(tmp_path: Path):
    turns = [{"role": "user", "content": "q" * 5000}, {"role": "assistant", "content": "a" * 5000}] * 40
    path = write_parquet(tmp_path / "chat.parquet", {"messages": [turns]})

    (row,) = read_spec(path=str(path), kind="instruction", max_row_bytes=100_000).to_pylist()

    assert row["reject_reason"] == "row_too_large: 400000 bytes > 100000"
    assert len(row["messages"]) == 64
    assert {len(turn["content"]) for turn in row["messages"]} == {4096}


def test_row_size_limit_is_configurable(tmp_path: Path):
    record = {"instruction": "q" * 50, "output": "答" * 20}
    parquet = write_parquet(tmp_path / "a.parquet", {key: [value] for key, value in record.items()})
    jsonl = write_jsonl(tmp_path / "a.jsonl", [record])

    rows = read_spec(path=[str(parquet), str(jsonl)], kind="instruction", max_row_bytes=100).to_pylist()

    # Parquet rows are measured by their content, JSONL rows by their line (never parsed when too big).
    assert [row["reject_reason"] for row in rows] == [
        "row_too_large: 110 bytes > 100",
        "row_too_large: 143 bytes > 100",
    ]


def test_empty_shards_yield_nothing(tmp_path: Path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "empty_array.json").write_text("[]")
    (tmp_path / "zero_bytes.parquet").write_bytes(b"")
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), tmp_path / "no_rows.parquet")

    table = read_spec(path=str(tmp_path), kind="document")

    assert table.num_rows == 0
    assert table.schema == schema.BASE_SCHEMA


@pytest.mark.parametrize("pattern", ["*.jsonl", "nope/*.parquet"])
def test_glob_matching_nothing_names_the_glob(tmp_path: Path, pattern: str):
    (tmp_path / "a.parquet").write_bytes(b"")
    path = str(tmp_path / pattern)

    with pytest.raises(InputError) as error:
        plan_read_units(InputSpec(path=path, kind="document"))

    assert error.value.path == path
    assert str(error.value) == f"{path}: no files match this pattern"


def test_missing_path_names_it(tmp_path: Path):
    path = str(tmp_path / "absent.jsonl")

    with pytest.raises(InputError, match="no such file or directory") as error:
        plan_read_units(InputSpec(path=path, kind="document"))

    assert error.value.path == path


def test_broken_json_array_names_the_file(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text('[{"text": "a"}, {"text": "b"')

    (unit,) = plan_read_units(InputSpec(path=str(path), kind="document"))
    with pytest.raises(InputError, match="not valid JSON: Expecting ',' delimiter at line 1") as error:
        read_table(unit)

    assert error.value.path == str(path)


def test_json_that_is_not_an_array_names_the_file(tmp_path: Path):
    path = tmp_path / "scalar.json"
    path.write_text('"just a string"')

    (unit,) = plan_read_units(InputSpec(path=str(path), kind="document"))
    with pytest.raises(InputError, match="expected a JSON array of objects, found a JSON str"):
        read_table(unit)


def test_every_jsonl_line_is_accounted_for(tmp_path: Path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"text": "a"}\n\n{bad\n\xff\n{"text": null}\r\n{"text": "b"}')

    rows = read_spec(path=str(path), kind="document").to_pylist()

    assert [r["source_row"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r["text"] for r in rows if r["reject_reason"] is None] == ["a", "b"]


def test_input_error_survives_pickling():
    error = pickle.loads(pickle.dumps(InputError("s3://bucket/x.parquet", "boom")))

    assert (error.path, error.message, str(error)) == (
        "s3://bucket/x.parquet",
        "boom",
        "s3://bucket/x.parquet: boom",
    )


# --- spec validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"path": "x", "kind": "document", "columns": {"body": "b"}}, "unknown column 'body'"),
        ({"path": "x", "kind": "document", "columns": {"output": "o"}}, "a document input maps only 'text'"),
        (
            {"path": "x", "kind": "instruction", "columns": {"text": "t"}},
            "an instruction input has no 'text'",
        ),
        (
            {"path": "x", "kind": "instruction", "columns": {"messages": "m", "output": "o"}},
            "map either 'messages' or instruction/input/output",
        ),
        ({"path": [], "kind": "document"}, "needs at least one non-empty path"),
        ({"path": "x", "kind": "document", "format": "csv"}, "format"),
        ({"path": "x", "kind": "documents"}, "kind"),
        ({"path": "x", "kind": "document", "colums": {}}, "colums"),
    ],
)
def test_spec_validation_messages(spec: dict, message: str):
    with pytest.raises(ValidationError, match=message):
        InputSpec(**spec)


def test_check_paths_lists_files(doc_shards: Path):
    spec = InputSpec(path=str(doc_shards / "*.json*"), kind="document")

    assert spec.check_paths() == [str(doc_shards / "a.jsonl"), str(doc_shards / "c.json")]
    assert spec.label == str(doc_shards / "*.json*")


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
    reasons = dict(zip(table.column(schema.SOURCE_ROW).to_pylist(), table.column(schema.REJECT_REASON).to_pylist()))
    assert reasons[0] is None and reasons[5] is None
    assert reasons[1] == "invalid_json: nesting too deep (RecursionError) at bad.jsonl:1"
    assert reasons[2] == "invalid_json: integer too large (over 4300 digits) at bad.jsonl:2"
    assert reasons[3] == "invalid_number: output is inf (overflow or not a number)"
    assert reasons[4] == "invalid_unicode: lone surrogate"
    assert set(table.column(schema.SOURCE_FILE).to_pylist()) == {"bad.jsonl"}


@pytest.mark.parametrize("configured", ["{root}", "{root}/sub/*.jsonl", "{root}/**/*.jsonl", "{root}/sub/x.jsonl"])
def test_lineage_is_the_path_within_the_configured_root(tmp_path, configured):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    table = read_spec(path=configured.format(root=tmp_path), kind="document")
    expected = "x.jsonl" if configured.endswith(("*.jsonl", "x.jsonl")) and "**" not in configured else "sub/x.jsonl"
    assert table.column(schema.SOURCE_FILE).to_pylist() == [expected]


def test_rows_of_a_merged_file_are_mapped_by_their_own_keys(tmp_path):
    path = write_jsonl(tmp_path / "merged.jsonl", [
        {"question": "What is two plus two?", "answer": "Four."},
        {"instruction": "Name a colour.", "input": "", "output": "Blue."},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]},
        {"foo": "bar", "baz": 1},
    ])
    table = read_spec(path=str(path), kind="instruction")
    rows = table.to_pylist()
    assert [r["reject_reason"] for r in rows[:3]] == [None, None, None]
    assert [r["output"] for r in rows[:3]] == ["Four.", "Blue.", "Hello!"]
    assert rows[3]["reject_reason"] == "unmapped_row: no usable columns; keys found: baz, foo"


def test_keep_columns_carry_source_fields_as_compact_json(tmp_path):
    path = write_jsonl(tmp_path / "cqia.jsonl", [
        {"instruction": "Name a river.", "output": "The Yangtze.", "id": 7, "domain": "地理", "task_type": "qa"},
        {"instruction": "Name a sea.", "output": "The East China Sea."},
    ])
    rows = read_spec(path=str(path), kind="instruction", keep_columns=["id", "domain", "task_type"]).to_pylist()
    assert [r[schema.SOURCE_FIELDS] for r in rows] == ['{"id":7,"domain":"地理","task_type":"qa"}', None]
    pq.write_table(pa.table({"text": ["hello"], "id": ["d1"]}), tmp_path / "d.parquet")
    (row,) = read_spec(path=str(tmp_path / "d.parquet"), kind="document", keep_columns=["id"]).to_pylist()
    assert row[schema.SOURCE_FIELDS] == '{"id":"d1"}'


@pytest.mark.parametrize("name", ["text", "doc_id", "split", "reject_reason", "source_fields"])
def test_keep_columns_refuse_reserved_names(name):
    with pytest.raises(ValidationError, match="reserved column name"):
        InputSpec(path="x.jsonl", kind="instruction", keep_columns=[name])
