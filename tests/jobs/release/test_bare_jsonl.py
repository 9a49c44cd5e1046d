"""A release's JSONL loads with the bare ``datasets`` JSON loader (no features, no card), shard files in
name order, even when most shards hold no value at all in some columns: scores, lineage, alpaca history.

The loader types every column from the first lines of the first file; a column that is null (or ``[]``)
there is typed ``null`` and a later shard's values cannot be cast to it. The writer puts a row that
carries each type at the head of every output's first shard (``sftforge.jobs.release.buckets``).
"""

from __future__ import annotations

import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.jobs.release.layout import split_files, splits
from sftforge.jobs.release.writer import ReleaseWriter
from sftforge.operators import schema
from sftforge.operators.write.formats import OutputConfig

datasets.disable_progress_bars()


def _sparse_rows(count: int = 120) -> pa.Table:
    """Rows whose optional values are rare: one row in 13 to 29 has each, so most tiny shards have none."""
    rows = []
    for i in range(count):
        document = i % 11 == 0
        multi = i % 13 == 4 and not document
        rows.append(
            {
                schema.DOC_ID: f"row-{i:04d}",
                schema.KIND: schema.KIND_DOCUMENT if document else schema.KIND_INSTRUCTION,
                schema.SOURCE_FILE: "in.jsonl",
                schema.SOURCE_ROW: i if i % 19 == 6 or document else None,
                schema.TEXT: f"Document {i} on the Yellow River." if document else None,
                schema.INSTRUCTION: None if document else f"Question {i}: how long is the Yangtze?",
                schema.INPUT: None if document else "",
                schema.OUTPUT: None if document else f"Answer {i}: about 6300 km.",
                schema.SYSTEM: "Be brief." if i % 17 == 3 and not document else None,
                schema.MESSAGES: [
                    {"role": "user", "content": f"Hi {i}"},
                    {"role": "assistant", "content": "Hello."},
                    {"role": "user", "content": f"Question {i}?"},
                    {"role": "assistant", "content": f"Answer {i}."},
                ]
                if multi
                else None,
                schema.LANG: "en",
                schema.QUALITY_SCORE: i / 200 if i % 13 == 9 or (document and i % 2 == 0) else None,
                # Documents are never judged: a column without a value in a whole output.
                schema.GEN_JUDGE_SCORE: 4.0 if i % 23 == 15 and not document else None,
                schema.ORIGIN: schema.ORIGIN_SOURCE,
                schema.PARENT_ID: f"row-{i - 1:04d}" if i % 29 == 20 else None,
                schema.SPLIT: ("train", "train", "test")[i % 3],
            }
        )
    types = {field.name: field.type for field in schema.BASE_SCHEMA}
    types.update(schema.ADDED_TYPES)
    return pa.table({name: pa.array([row[name] for row in rows], types[name]) for name in rows[0]})


@pytest.fixture(scope="module", params=["messages", "alpaca"])
def release(request, ray_session, tmp_path_factory):
    import ray

    folder = tmp_path_factory.mktemp(f"bare-{request.param}")
    config = OutputConfig(dir=str(folder / "out"), sft_format=request.param, shard_rows=2)
    writer = ReleaseWriter(config, "r1")
    writer.write(ray.data.from_arrow(_sparse_rows()).repartition(4))
    return request.param, writer.publish({}), folder


def _load(builder: str, files, folder):
    return datasets.load_dataset(
        builder, data_files=[str(f) for f in files], split="train", cache_dir=str(folder / "hf-cache")
    )


def _outputs(path):
    return [(split, False) for split in splits(path)] + [(split, True) for split in splits(path, True)]


def test_some_shards_hold_no_value_in_some_columns(release):
    """The data is what the test claims: first shards without scores, later shards with them."""
    fmt, path, _ = release
    shards = split_files(path, "jsonl", "train")
    assert len(shards) > 10

    def empty_in(shard, column):
        values = [json.loads(line)[column] for line in shard.read_text(encoding="utf-8").splitlines()]
        return all(value in (None, []) for value in values)

    columns = [schema.QUALITY_SCORE, schema.GEN_JUDGE_SCORE, schema.SOURCE_ROW]
    columns += ["history"] if fmt == "alpaca" else []
    for column in columns:
        assert any(empty_in(shard, column) for shard in shards), column
        assert not all(empty_in(shard, column) for shard in shards), column


def test_every_split_loads_bare_from_its_jsonl_shards_as_from_parquet(release):
    _fmt, path, folder = release
    for split, documents in _outputs(path):
        jsonl = split_files(path, "jsonl", split, documents)
        parquet = split_files(path, "parquet", split, documents)
        assert len(jsonl) == len(parquet) >= 1
        from_json = _load("json", jsonl, folder)
        from_parquet = _load("parquet", parquet, folder)
        arrow = pq.read_schema(parquet[0]).remove_metadata()
        assert from_parquet.features == datasets.Features.from_arrow_schema(arrow)
        # A column without a single value in the whole output has no JSON type to show: null.
        valueless = {
            name for name in arrow.names if all(value in (None, []) for value in from_parquet[name])
        }
        assert valueless == ({schema.GEN_JUDGE_SCORE} if documents else set()), (split, documents)
        assert all(from_json.features[name] == datasets.Value("null") for name in valueless)
        expected = {n: f for n, f in from_parquet.features.items() if n not in valueless}
        assert {n: f for n, f in from_json.features.items() if n not in valueless} == expected
        assert list(from_json.features) == list(from_parquet.features)
        assert from_json.to_list() == from_parquet.to_list()
        assert len(from_json) == sum(pq.read_metadata(p).num_rows for p in parquet)


def test_splits_load_together_bare(release):
    _fmt, path, folder = release
    files = {split: [str(f) for f in split_files(path, "jsonl", split)] for split in splits(path)}
    loaded = datasets.load_dataset("json", data_files=files, cache_dir=str(folder / "hf-cache"))
    assert set(loaded) == {"train", "test"}
    assert loaded["test"].features == loaded["train"].features
