from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.operators.write.shards import SchemaChangedError, ShardWriter


def _records(count: int) -> pa.Table:
    return pa.table(
        {
            "text": [f"第 {i} 段：长江是中国最长的河流。" * (1 + i % 5) for i in range(count)],
            "doc_id": [f"{i:08x}" for i in range(count)],
            "quality_score": [i / count for i in range(count)],
        }
    )


def test_shard_bytes_do_not_depend_on_how_the_stream_is_cut(tmp_path):
    records = _records(1000)
    layouts = {"one": [1000], "small": [1] * 50 + [37] * 20 + [210], "odd": [333, 333, 334]}
    digests = {}
    for name, sizes in layouts.items():
        writer = ShardWriter(tmp_path / name, shard_rows=300, row_group_rows=128)
        start = 0
        for size in sizes:
            writer.write(records.slice(start, size))
            start += size
        digests[name] = [(f.path.name, f.sha256) for f in writer.close()]
    assert digests["one"] == digests["small"] == digests["odd"]
    assert pq.ParquetFile(tmp_path / "one" / "part-00000.parquet").metadata.num_row_groups == 3


def test_one_file_format_only_and_nothing_written_for_no_rows(tmp_path):
    records = _records(3)
    files = ShardWriter(tmp_path / "jsonl-only", file_formats=["jsonl"], shard_rows=2).close()
    assert files == [] and not (tmp_path / "jsonl-only").exists()
    with ShardWriter(tmp_path / "jsonl-only", file_formats=["jsonl"], shard_rows=2) as writer:
        writer.write(records)
        writer.write(records.slice(0, 0))
    assert sorted(p.name for p in (tmp_path / "jsonl-only").iterdir()) == [
        "part-00000.jsonl",
        "part-00001.jsonl",
    ]


def test_schema_change_mid_stream_is_refused(tmp_path):
    writer = ShardWriter(tmp_path / "x", shard_rows=10)
    writer.write(_records(2))
    with pytest.raises(SchemaChangedError, match="changed schema"):
        writer.write(pa.table({"text": ["a document"], "doc_id": [1]}))
    writer.abort()


def test_exact_multiple_of_the_shard_size_leaves_no_empty_shard(tmp_path):
    with ShardWriter(tmp_path / "x", shard_rows=10) as writer:
        writer.write(_records(20))
    files = writer.close()
    assert [(f.path.name, f.rows) for f in files] == [
        ("part-00000.parquet", 10),
        ("part-00000.jsonl", 10),
        ("part-00001.parquet", 10),
        ("part-00001.jsonl", 10),
    ]
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == sorted(f.path.name for f in files)
    for f in files:
        if f.format == "jsonl":
            assert f.path.read_bytes().count(b"\n") == 10
        else:
            assert pq.read_metadata(f.path).num_rows == 10


def test_precomputed_lines_must_match_the_records(tmp_path):
    from sftforge.operators.write.jsonl import encode_jsonl

    records = _records(5)
    writer = ShardWriter(tmp_path / "x", shard_rows=10)
    with pytest.raises(ValueError, match="4 JSON lines for 5 records"):
        writer.write(records, encode_jsonl(records.slice(0, 4)))
    writer.abort()
