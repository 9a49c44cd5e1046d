from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.json as pj
from sftforge.operators import schema
from sftforge.operators.write.jsonl import encode_jsonl, jsonl_bytes
from sftforge.operators.write.schemas import RECORD_SCHEMAS
from sftforge.operators.write.witness import first_passing, type_checks

HISTORY = RECORD_SCHEMAS["alpaca"].field("history").type


def _records() -> pa.Table:
    return pa.table(
        {
            "messages": pa.array(
                [None, [], [{"role": "user", "content": "hi"}], [{"role": "assistant", "content": None}]],
                schema.MESSAGES_TYPE,
            ),
            "history": pa.array([[], [[]], [["a", "b"]], None], HISTORY),
            "quality_score": pa.array([None, 0.5, None, None], pa.float64()),
            "date": pa.array(["2024-01-01", "", "2024-01-02 10:00", "soon"], pa.string()),
        }
    )


def test_one_check_per_leaf_value_path_and_text_checks_for_strings():
    checks = type_checks(_records())
    assert list(checks) == [
        "messages[].role", "messages[].role~text", "messages[].content", "messages[].content~text",
        "history[][]", "history[][]~text", "quality_score", "date", "date~text",
    ]
    assert checks["messages[].role"].tolist() == [False, False, True, True]
    assert checks["messages[].content"].tolist() == [False, False, True, False]
    assert checks["history[][]"].tolist() == [False, False, True, False]  # [] and [[]] show no type
    assert checks["quality_score"].tolist() == [False, True, False, False]
    assert checks["date"].tolist() == [True] * 4
    assert checks["date~text"].tolist() == [False, True, False, True]  # a reader takes dates as timestamps


def test_first_passing_marks_the_first_row_by_hash_then_key_per_group_and_check():
    keys = pa.array(["k3", "k1", "k2", "k0", "k4"], pa.large_string())
    hashes = pa.array([5, 5, 9, 1, 2], pa.uint32())
    groups = pa.array(["sft/train", "sft/train", "sft/test", "sft/test", "sft/train"])
    checks = {
        "a": np.array([True, True, True, False, False]),
        "b": np.array([True, False, False, False, True]),
    }
    marks = first_passing(keys, hashes, groups, checks).to_pylist()
    assert marks == [None, ["a"], ["a"], None, ["b"]]
    assert first_passing(keys.slice(0, 0), hashes.slice(0, 0), groups.slice(0, 0), {}).to_pylist() == []


def test_date_like_strings_are_found_in_any_string_layout():
    values = ["2024-01-01", None, "2024-01-0x", "x2024-01-01", "1999-12-31T00:00", "", "short"]
    for type_ in (pa.string(), pa.large_string(), pa.string_view()):
        checks = type_checks(pa.table({"s": pa.array(values, type_).slice(1)}))
        assert checks["s~text"].tolist() == [False, True, True, False, True, True]


def test_the_marked_rows_alone_show_a_json_reader_every_type_the_table_has():
    rng = np.random.default_rng(7)
    count = 400
    scores = [float(rng.random()) if rng.random() < 0.01 else None for _ in range(count)]
    pairs = [[["q", "a"]] if rng.random() < 0.01 else [] for _ in range(count)]
    records = pa.table(
        {
            "history": pa.array(pairs, HISTORY),
            "quality_score": pa.array(scores, pa.float64()),
            "source_row": pa.array([i if i % 97 == 5 else None for i in range(count)], pa.int64()),
            "created": pa.array(["2024-05-01" if i % 50 else "n/a" for i in range(count)], pa.string()),
        }
    )
    keys = pa.array([f"{i:05d}" for i in rng.permutation(count)], pa.large_string())
    hashes = pa.array(rng.integers(0, 1 << 32, count), pa.uint32())
    marks = first_passing(keys, hashes, pa.array(["sft/train"] * count), type_checks(records))
    rows = np.flatnonzero(np.asarray(marks.is_valid().to_numpy(zero_copy_only=False)))
    assert 0 < len(rows) <= 5
    shown = pj.read_json(io.BytesIO(bytes(jsonl_bytes(encode_jsonl(records.take(rows)))))).schema
    assert shown == pj.read_json(io.BytesIO(bytes(jsonl_bytes(encode_jsonl(records))))).schema
    assert shown.field("history").type == pa.list_(pa.list_(pa.string()))
    assert shown.field("quality_score").type == pa.float64()
    assert shown.field("created").type == pa.string()
