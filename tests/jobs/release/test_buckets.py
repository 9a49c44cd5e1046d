from __future__ import annotations

import json

import pyarrow as pa
from sftforge.jobs.release.buckets import (
    Bucket,
    merge_surveys,
    partition,
    plan_buckets,
    survey,
    write_bucket,
)
from sftforge.jobs.release.stream import JSON, KEY, ROW_HASH, TARGET, prepare_batch
from sftforge.operators import schema
from sftforge.operators.write.formats import OutputConfig

from tests.jobs.release.test_writer import _final_rows


def test_the_plan_depends_only_on_row_counts(tmp_path):
    output = OutputConfig(dir=str(tmp_path), shard_rows=40)
    plan = plan_buckets({"sft/train": 81, "rejects": 3, "documents/test": 40}, output)
    assert [(b.target, b.index, b.of) for b in plan] == [
        ("documents/test", 0, 1), ("rejects", 0, 1),
        ("sft/train", 0, 3), ("sft/train", 1, 3), ("sft/train", 2, 3),
    ]
    fixed = plan_buckets({"sft/train": 81}, OutputConfig(dir=str(tmp_path), shards=2))
    assert [b.of for b in fixed] == [2, 2]
    assert plan_buckets({}, output) == []


def test_a_bucket_holds_the_same_rows_however_the_blocks_are_cut(tmp_path):
    output = OutputConfig(dir=str(tmp_path), shard_rows=20)
    stream = prepare_batch(_final_rows(200), output)
    counts = {t: stream.column(TARGET).to_pylist().count(t) for t in set(stream.column(TARGET).to_pylist())}
    plan = plan_buckets(counts, output)
    whole = partition(stream, plan)
    cut = [partition(stream.slice(start, 37), plan) for start in range(0, 200, 37)]
    assert sum(p.num_rows for p in whole) == 200
    for index, bucket in enumerate(plan):
        pieces = pa.concat_tables([blocks[index] for blocks in cut])
        assert set(pieces.column(JSON).to_pylist()) == set(whole[index].column(JSON).to_pylist())
        assert set(whole[index].column(TARGET).to_pylist()) <= {bucket.target}


def test_a_bucket_orders_equal_keys_by_their_lines(tmp_path):
    output = OutputConfig(dir=str(tmp_path), file_formats=["jsonl"])
    lines = ['{"text":"b","doc_id":"same"}\n', '{"text":"a","doc_id":"same"}\n']
    rows = pa.table({
        KEY: pa.array(["1\x1ftrain\x1fsame"] * 2, pa.large_string()),
        TARGET: ["documents/train"] * 2,
        JSON: pa.array(lines, pa.large_string()),
        ROW_HASH: pa.array([7, 7], pa.uint32()),
    })
    result = write_bucket(Bucket("documents/train", 3, 4), str(tmp_path / "s"), output, rows.slice(0, 1), rows.slice(1))
    assert result["counts"] == {"documents/train": 2}
    assert [f["path"] for f in result["files"]] == ["documents/jsonl/train/part-00003.jsonl"]
    assert (tmp_path / "s" / "documents" / "jsonl" / "train" / "part-00003.jsonl").read_text() == lines[1] + lines[0]


def _survey_cut(stream: pa.Table, size: int):
    return merge_surveys([survey(stream.slice(start, size)) for start in range(0, stream.num_rows, size)])


def test_witnesses_depend_only_on_the_rows_and_head_the_first_file(tmp_path):
    output = OutputConfig(dir=str(tmp_path), shard_rows=5)
    table = _final_rows(200)
    rare = pa.array([0.5 if i % 41 == 17 else None for i in range(200)], pa.float64())
    table = table.set_column(table.schema.get_field_index(schema.QUALITY_SCORE), schema.QUALITY_SCORE, rare)
    stream = prepare_batch(table, output)
    counts, witnesses = merge_surveys([survey(stream)])
    backwards = stream.take(list(range(199, -1, -1)))
    assert (counts, witnesses) == _survey_cut(stream, 37) == _survey_cut(backwards, 64)
    plan = plan_buckets(counts, output, witnesses)
    train = [bucket for bucket in plan if bucket.target == "sft/train"]
    assert len(train) > 5 and train[0].witnesses and not any(b.witnesses for b in train[1:])
    assert set(train[0].witnesses) == {key for _, key in witnesses["sft/train"].values()}
    pieces = [partition(stream.slice(start, 37), plan) for start in range(0, 200, 37)]
    index = plan.index(train[0])
    result = write_bucket(train[0], str(tmp_path / "s"), output, *[part[index] for part in pieces])
    assert result["counts"]["sft/train"] >= len(train[0].witnesses)
    lines = (tmp_path / "s" / "jsonl" / "train" / "part-00000.jsonl").read_text().splitlines()
    head = [json.loads(line) for line in lines[: len(train[0].witnesses)]]
    assert any(record[schema.QUALITY_SCORE] is not None for record in head)
    scored = sum(value is not None for value in rare.to_pylist())
    assert scored < len(train)  # so that some of train's files hold no score at all
