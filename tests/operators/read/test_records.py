"""Rows as the reader builds them: content ids, lineage, kept fields, bounded batches and previews."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sftforge.operators import schema
from sftforge.operators.read.planning import plan_read_units
from sftforge.operators.read.reader import read_unit
from sftforge.operators.read.records import BATCH_ROWS, content_id
from sftforge.operators.read.spec import InputSpec

from tests.support.read_inputs import read_spec, write_jsonl, write_parquet


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


def test_batches_are_bounded(tmp_path: Path):
    count = BATCH_ROWS * 2 + 5
    path = write_jsonl(tmp_path / "many.jsonl", [{"text": f"document {i}"} for i in range(count)])

    (unit,) = plan_read_units(InputSpec(path=str(path), kind="document"))
    sizes = [batch.num_rows for batch in read_unit(unit)]

    assert sum(sizes) == count
    assert max(sizes) <= BATCH_ROWS


def test_oversized_conversation_keeps_a_bounded_preview(tmp_path: Path):
    turns = [{"role": "user", "content": "q" * 5000}, {"role": "assistant", "content": "a" * 5000}] * 40
    path = write_parquet(tmp_path / "chat.parquet", {"messages": [turns]})

    (row,) = read_spec(path=str(path), kind="instruction", max_row_bytes=100_000).to_pylist()

    assert row["reject_reason"] == "row_too_large: 400000 bytes > 100000"
    assert len(row["messages"]) == 64
    assert {len(turn["content"]) for turn in row["messages"]} == {4096}


def test_keep_columns_carry_source_fields_as_compact_json(tmp_path):
    path = write_jsonl(
        tmp_path / "cqia.jsonl",
        [
            {
                "instruction": "Name a river.",
                "output": "The Yangtze.",
                "id": 7,
                "domain": "地理",
                "task_type": "qa",
            },
            {"instruction": "Name a sea.", "output": "The East China Sea."},
        ],
    )
    rows = read_spec(
        path=str(path), kind="instruction", keep_columns=["id", "domain", "task_type"]
    ).to_pylist()
    assert [r[schema.SOURCE_FIELDS] for r in rows] == ['{"id":7,"domain":"地理","task_type":"qa"}', None]
    pq.write_table(pa.table({"text": ["hello"], "id": ["d1"]}), tmp_path / "d.parquet")
    (row,) = read_spec(path=str(tmp_path / "d.parquet"), kind="document", keep_columns=["id"]).to_pylist()
    assert row[schema.SOURCE_FIELDS] == '{"id":"d1"}'


def test_content_id_prefixes_each_part_with_its_length():
    assert content_id("instruction", ["ab", "c"]) != content_id("instruction", ["a", "bc"])
    assert content_id("instruction", [None, "x"]) == content_id("instruction", ["", "x"])
    assert content_id("document", ["x"]) != content_id("instruction", ["x"])
