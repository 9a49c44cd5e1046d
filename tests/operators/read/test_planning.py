"""Read units: sizes, labels, row-group ranges, and footers checked at plan time."""

from __future__ import annotations

from pathlib import Path

import pytest
from sftforge.operators import schema
from sftforge.operators.read.errors import InputError
from sftforge.operators.read.planning import ReadUnit, plan_read_units
from sftforge.operators.read.reader import read_table
from sftforge.operators.read.spec import InputSpec

from tests.support.read_inputs import write_parquet


def test_units_carry_size_format_and_label(doc_shards: Path):
    units = plan_read_units(InputSpec(path=str(doc_shards), kind="document", name="web"))

    assert [unit.format for unit in units] == ["jsonl", "parquet", "json"]
    assert [unit.size for unit in units] == [
        (doc_shards / name).stat().st_size for name in ("a.jsonl", "b.parquet", "c.json")
    ]
    assert {unit.spec_name for unit in units} == {"web"}
    assert all(ReadUnit.from_row(unit.to_row()) == unit for unit in units)


def test_parquet_splits_into_row_group_units_with_file_row_indices(tmp_path: Path):
    texts = [f"row {i}" for i in range(10)]
    path = write_parquet(tmp_path / "p.parquet", {"text": texts}, row_group_size=3)

    units = plan_read_units(InputSpec(path=str(path), kind="document"), max_unit_rows=4)

    assert [unit.row_groups for unit in units] == [(0,), (1,), (2, 3)]
    assert [unit.first_row for unit in units] == [0, 3, 6]
    rows = [row for unit in units for row in read_table(unit).to_pylist()]
    assert [row[schema.SOURCE_ROW] for row in rows] == list(range(10))
    assert [row[schema.TEXT] for row in rows] == texts


def test_corrupt_parquet_fails_at_plan_time_naming_the_file(tmp_path: Path):
    good = write_parquet(tmp_path / "good.parquet", {"text": ["fine"]})
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[:-12] + b"garbage!PAR1")

    with pytest.raises(InputError) as error:
        plan_read_units(InputSpec(path=str(tmp_path), kind="document"))

    assert error.value.path == str(bad)
    assert str(bad) in str(error.value) and "not a readable Parquet file" in str(error.value)
