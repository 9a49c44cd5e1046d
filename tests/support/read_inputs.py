"""Input files for the reader's tests: writers, and reading a whole spec into one table."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sftforge.operators import schema
from sftforge.operators.read.planning import plan_read_units
from sftforge.operators.read.reader import read_table
from sftforge.operators.read.spec import InputSpec

#: Three documents, one of them Chinese, one with a comma.
DOCS = ["First document.", "第二篇文档，中文内容。", "Third one, with a comma."]


def write_jsonl(path: Path, records: list) -> Path:
    """Writes ``records`` as JSON Lines (UTF-8, no ASCII escapes)."""
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), "utf-8")
    return path


def write_parquet(path: Path, columns: dict, row_group_size: int | None = None) -> Path:
    """Writes ``columns`` as one Parquet file."""
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def read_spec(**spec) -> pa.Table:
    """Every row of an input, read through its planned units."""
    tables = [read_table(unit) for unit in plan_read_units(InputSpec(**spec))]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def live(table: pa.Table) -> list[dict]:
    """The rows no stage rejected."""
    return [row for row in table.to_pylist() if row[schema.REJECT_STAGE] is None]


def rejected(table: pa.Table) -> list[dict]:
    """The rejected rows."""
    return [row for row in table.to_pylist() if row[schema.REJECT_STAGE] is not None]
