"""Whole-column conversion of document batches: the same rows and ids as the row-by-row builder."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from sftforge.operators import schema
from sftforge.operators.read.columnar import document_rows
from sftforge.operators.read.columns import resolve_columns
from sftforge.operators.read.planning import plan_read_units
from sftforge.operators.read.reader import read_table
from sftforge.operators.read.records import RowBuilder
from sftforge.operators.read.spec import InputSpec

from tests.support.read_inputs import write_parquet

TEXTS = ["First document.", "第二篇文档，中文内容。", " padded \t", "emoji 😀 and \u2028 a line separator"]


def _unit(tmp_path: Path, columns: dict, **spec):
    path = write_parquet(tmp_path / "docs.parquet", columns, row_group_size=3)
    (unit,) = plan_read_units(InputSpec(path=str(path), kind="document", **spec))
    return unit


def _row_by_row(unit, texts: list, first_row: int = 0) -> pa.Table:
    builder = RowBuilder(unit, resolve_columns("document", {}, ["text"], unit.path))
    for offset, text in enumerate(texts):
        builder.add_record(first_row + offset, {"text": text})
    return builder.flush()


def test_clean_batch_gives_the_row_builders_rows(tmp_path: Path):
    unit = _unit(tmp_path, {"text": TEXTS})
    plan = resolve_columns("document", {}, ["text"], unit.path)
    batch = pa.record_batch({"text": pa.array(TEXTS)})

    table = document_rows(batch, plan, "document", "docs.parquet", 5, unit.max_row_bytes)

    assert table is not None and table.schema == schema.BASE_SCHEMA
    expected = _row_by_row(unit, TEXTS, first_row=5)
    assert table.set_column(2, schema.SOURCE_FILE, expected.column(schema.SOURCE_FILE)).equals(expected)
    assert table.column(schema.SOURCE_FILE).to_pylist() == ["docs.parquet"] * len(TEXTS)


@pytest.mark.parametrize(
    "values",
    [
        ["fine", None],  # null_text
        ["fine", " \u3000\x1c"],  # blank by str.isspace
        ["fine", ""],
        ["fine", "x" * 40],  # over max_row_bytes below
    ],
)
def test_batch_with_a_row_to_reject_is_left_to_the_row_builder(values, tmp_path: Path):
    unit = _unit(tmp_path, {"text": ["fine"]})
    plan = resolve_columns("document", {}, ["text"], unit.path)

    assert document_rows(pa.record_batch({"text": pa.array(values)}), plan, "document", "f", 0, 32) is None


def test_binary_column_goes_row_by_row(tmp_path: Path):
    unit = _unit(tmp_path, {"text": ["fine"]})
    plan = resolve_columns("document", {}, ["text"], unit.path)
    binary = pa.record_batch({"text": pa.array([b"fine"], pa.binary())})
    assert document_rows(binary, plan, "document", "f", 0, 100) is None


def test_file_reads_to_the_same_rows_with_mixed_batches(tmp_path: Path):
    # Row groups of three: the second holds a null, so its rows go through the builder, the others not.
    texts = ["a", "b", "c", "d", None, "f", "g", "h"]
    unit = _unit(tmp_path, {"text": texts})

    table = read_table(unit)

    assert table.column(schema.SOURCE_ROW).to_pylist() == list(range(8))
    assert table.column(schema.REJECT_REASON).to_pylist() == [None] * 4 + ["null_text"] + [None] * 3
    live = [row for row in table.to_pylist() if row[schema.REJECT_STAGE] is None]
    expected = _row_by_row(unit, ["a", "b", "c", "d", "f", "g", "h"]).to_pylist()
    assert [row[schema.DOC_ID] for row in live] == [row[schema.DOC_ID] for row in expected]


def test_the_listed_spaces_are_every_character_isspace_accepts():
    import sys

    from sftforge.operators.read.columnar import SPACES

    assert SPACES == "".join(chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace())
