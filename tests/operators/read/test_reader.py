"""Readers: every format, compressed files, and every kind of bad bytes or JSON, row by row."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.operators import schema
from sftforge.operators.read.errors import InputError
from sftforge.operators.read.planning import plan_read_units
from sftforge.operators.read.reader import read_table
from sftforge.operators.read.spec import InputSpec

from tests.support.read_inputs import DOCS, live, read_spec, rejected, write_jsonl, write_parquet


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


def test_parquet_with_corrupt_pages_fails_at_read_time_naming_the_file(tmp_path: Path):
    path = write_parquet(tmp_path / "pages.parquet", {"text": ["x" * 1000 for _ in range(50)]})
    data = bytearray(path.read_bytes())
    data[8:400] = b"\xff" * 392  # page data and header, footer intact
    path.write_bytes(bytes(data))

    (unit,) = plan_read_units(InputSpec(path=str(path), kind="document"))
    with pytest.raises(InputError) as error:
        read_table(unit)

    assert error.value.path == str(path)


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
