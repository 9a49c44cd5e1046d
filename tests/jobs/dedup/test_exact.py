"""Exact dedup's pass (``exact_partition`` and friends), run on one table in memory."""

import pyarrow as pa
import pytest
from sftforge.operators import schema

from tests.jobs.dedup.in_memory import dedup_table, documents, exact_only


def _ids(table):
    return table.column(schema.DOC_ID).to_pylist()


def test_english_and_chinese_duplicates_keep_one_row_and_name_it():
    table = documents(
        [
            "The cat sat on the mat.",
            "the cat sat on the mat",
            "今天天气很好，我们去公园散步吧。",
            "今天天气很好 我们去公园散步吧",
            "Something else entirely.",
        ]
    )
    kept, rejected = dedup_table(table, exact_only(keep="smallest_doc_id"))
    assert _ids(kept) == ["d0", "d2", "d4"]
    rows = rejected.to_pylist()
    assert [row[schema.DOC_ID] for row in rows] == ["d1", "d3"]
    assert "kept doc_id d0" in rows[0][schema.REJECT_REASON]
    assert "similarity 1.00" in rows[0][schema.REJECT_REASON]
    assert [row[schema.REJECT_STAGE] for row in rows] == ["dedup.exact"] * 2
    assert [row[schema.CLUSTER_ID] for row in rows] == ["d0", "d2"]
    assert kept.column(schema.CLUSTER_ID).to_pylist() == ["d0", "d2", "d4"]


@pytest.mark.parametrize(
    "keep,quality,expected",
    [
        ("highest_quality", [0.2, 0.9, None], "b"),
        ("highest_quality", [None, None, None], "c"),  # no scores: the longest
        ("longest", [0.2, 0.9, None], "c"),
        ("smallest_doc_id", [0.2, 0.9, None], "a"),
    ],
)
def test_keep_rules(keep, quality, expected):
    table = documents(
        ["Same text here", "same text here!", "SAME TEXT HERE!!!"],
        doc_ids=["a", "b", "c"],
        **{schema.QUALITY_SCORE: pa.array(quality, type=pa.float64())},
    )
    kept, rejected = dedup_table(table, exact_only(keep=keep))
    assert _ids(kept) == [expected]
    assert set(rejected.column(schema.CLUSTER_ID).to_pylist()) == {expected}


def test_ties_go_to_the_smallest_doc_id_then_the_earliest_location():
    table = documents(
        ["same", "same", "same"],
        doc_ids=["z", "m", "m"],
        **{schema.SOURCE_FILE: ["f.jsonl", "g.jsonl", "f.jsonl"], schema.SOURCE_ROW: [0, 5, 9]},
    )
    kept, rejected = dedup_table(table, exact_only(keep="longest"))
    assert [(row[schema.DOC_ID], row[schema.SOURCE_FILE]) for row in kept.to_pylist()] == [("m", "f.jsonl")]
    # Rows with the same content-hash doc_id are told apart by their lineage.
    assert all(
        "kept doc_id m at f.jsonl:9" in reason for reason in rejected.column(schema.REJECT_REASON).to_pylist()
    )


def test_instruction_key_compares_the_prompt_only():
    table = pa.table(
        {
            schema.DOC_ID: ["i1", "i2"],
            schema.KIND: [schema.KIND_INSTRUCTION] * 2,
            schema.INSTRUCTION: ["Translate to French.", "Translate to French."],
            schema.INPUT: ["Good morning", "Good morning"],
            schema.OUTPUT: ["Bonjour", "Bonjour à tous"],
        }
    )
    assert dedup_table(table, exact_only(key="all"))[0].num_rows == 2
    assert dedup_table(table, exact_only(key="instruction"))[0].num_rows == 1


def test_accounting_every_row_is_kept_or_rejected_once():
    kept, rejected = dedup_table(documents([f"text {i % 7}" for i in range(50)]), exact_only())
    assert kept.num_rows == 7 and rejected.num_rows == 43
    assert set(rejected.column(schema.CLUSTER_ID).to_pylist()) <= set(_ids(kept))


def test_conversations_are_compared_on_every_turn():
    def conversation(*turns):
        roles = ["user", "assistant"] * len(turns)
        return [{"role": role, "content": content} for role, content in zip(roles, turns)]

    messages = [
        conversation("Hi", "Hello! How can I help?", "Tell me a joke", "Goodbye!"),
        conversation("Hi", "Hello! How can I help?", "What is 2+2?", "Goodbye!"),
        conversation("hi", "Hello, how can I help", "Tell me a joke", "Goodbye"),
    ]
    table = pa.table(
        {
            schema.DOC_ID: ["c1", "c2", "c3"],
            schema.KIND: [schema.KIND_INSTRUCTION] * 3,
            # What the reader fills in: the first question and the last answer.
            schema.INSTRUCTION: ["Hi", "Hi", "hi"],
            schema.OUTPUT: ["Goodbye!", "Goodbye!", "Goodbye"],
            schema.MESSAGES: pa.array(messages, type=schema.MESSAGES_TYPE),
        }
    )
    kept, rejected = dedup_table(table, exact_only(keep="smallest_doc_id"))
    assert _ids(kept) == ["c1", "c2"]
    assert rejected.column(schema.CLUSTER_ID).to_pylist() == ["c1"]
