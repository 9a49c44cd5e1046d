"""Worker side of the release: every final row becomes one JSON line with a sort key, a target and a hash.

A target is the output a row goes to: ``sft/<split>``, ``documents/<split>`` or ``rejects``. Rows are
written in a total order per target (the key, then the JSON line), and spread over buckets by a hash of
their ``doc_id`` (``ROW_HASH``), so which rows share a file depends only on the rows themselves.

``WITNESS`` names, on a few rows of each batch, the type checks (``sftforge.operators.write.witness``)
for which the row comes first of its target in the batch, by hash then key; the writer keeps the first
over all batches and writes those rows first in the target's first file, so that a JSON reader typing
columns from the first lines sees every type the output has.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.write.formats import DOCUMENTS, OutputConfig, SFTFormatter, document_mask
from sftforge.operators.write.jsonl import encode_jsonl
from sftforge.operators.write.witness import first_passing, type_checks

REJECTS = "rejects"
#: ``reject_stage`` of rows the writer itself cannot write (a conversation that is not valid SFT).
WRITE_STAGE = "write"
SPLIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

KEY = "__release_key"
TARGET = "__release_target"
JSON = "__release_json"
ROW_HASH = "__release_hash"
WITNESS = "__release_witness"
STREAM_SCHEMA = pa.schema(
    [
        pa.field(KEY, pa.large_string()),
        pa.field(TARGET, pa.string()),
        pa.field(JSON, pa.large_string()),
        pa.field(ROW_HASH, pa.uint32()),
        pa.field(WITNESS, pa.list_(pa.string())),
    ]
)
_GROUP_RANK = {"sft": "0", DOCUMENTS: "1", REJECTS: "2"}
_KEY_SEPARATOR = "\x1f"


class ReleaseError(Exception):
    """A release cannot be written or published; nothing was published."""


@dataclass(frozen=True)
class WriteCounts:
    """What ``ReleaseWriter.write`` put in the staging area.

    Attributes:
        instructions_by_split: SFT records per split.
        documents_by_split: Document records per split.
        rejected_by_stage: Rows in ``rejects/`` per ``reject_stage`` (``write`` for rows the writer
            could not format).
        files: Every data file written, paths relative to the release folder.
        distributions: A summary of the released records for the report's charts
            (``sftforge.jobs.release.distributions``), made by the workers that wrote them; ``None``
            when not known.
    """

    instructions_by_split: dict[str, int] = field(default_factory=dict)
    documents_by_split: dict[str, int] = field(default_factory=dict)
    rejected_by_stage: dict[str, int] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    distributions: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def rows_by_split(self) -> dict[str, int]:
        """Instruction and document records together, per split."""
        totals = Counter(self.instructions_by_split)
        totals.update(self.documents_by_split)
        return dict(sorted(totals.items()))

    @property
    def total_written(self) -> int:
        """Rows written to split outputs (SFT records and documents)."""
        return sum(self.instructions_by_split.values()) + sum(self.documents_by_split.values())

    @property
    def total_rejected(self) -> int:
        """Rows written to ``rejects/``."""
        return sum(self.rejected_by_stage.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": self.total_written,
            "rejected": self.total_rejected,
            "by_split": self.rows_by_split,
            "instructions_by_split": dict(self.instructions_by_split),
            "documents_by_split": dict(self.documents_by_split),
            "rejected_by_stage": dict(self.rejected_by_stage),
        }


def prepare_batch(batch: pa.Table, output: OutputConfig, kept_columns: tuple[str, ...] | None = None) -> pa.Table:
    """Formats one batch of the final Dataset for writing.

    Every row becomes exactly one JSON line with a sort key, a target and a hash: live rows an SFT
    record (``sft/<split>``) or a document record (``documents/<split>``); rejected rows, and live rows
    the formatter refuses (stage ``write``), a reject record (``rejects``). The result has
    ``STREAM_SCHEMA`` whatever rows the batch holds.

    Raises:
        ReleaseError: A live row has no split or a split name that is not a folder name.
    """
    formatter = SFTFormatter(output, kept_columns)
    if schema.REJECT_STAGE in batch.column_names:
        dead_mask = pc.is_valid(batch.column(schema.REJECT_STAGE))
    else:
        dead_mask = pa.array(np.zeros(batch.num_rows, dtype=bool))
    live, dead = batch.filter(pc.invert(dead_mask)), batch.filter(dead_mask)
    parts = []
    if live.num_rows:
        splits = live.column(schema.SPLIT) if schema.SPLIT in live.column_names else None
        if splits is None or splits.null_count:
            raise ReleaseError(
                "rows reached the release writer without a split; run the split stage before writing"
            )
        bad = sorted({name for name in pc.unique(splits).to_pylist() if not SPLIT_NAME.match(name)})
        if bad:
            raise ReleaseError(f"split names {bad} cannot be folder names")
        documents = document_mask(live)
        for group, rows, fmt in (
            ("sft", live.filter(pc.invert(documents)), formatter.format_instructions),
            (DOCUMENTS, live.filter(documents), formatter.format_documents),
        ):
            if not rows.num_rows:
                continue
            formatted = fmt(rows)
            parts.append(_record_part(group, formatted.records, rows.filter(formatted.written)))
            if formatted.rejected.num_rows:
                refused = _set_column(formatted.rejected, schema.REJECT_STAGE, WRITE_STAGE)
                parts.append(_reject_part(refused))
    if dead.num_rows:
        parts.append(_reject_part(dead))
    stream = pa.concat_tables(parts) if parts else STREAM_SCHEMA.empty_table()
    if stream.num_rows != batch.num_rows:
        raise ReleaseError(f"release writer made {stream.num_rows} records of {batch.num_rows} rows")
    return stream


def _record_part(group: str, records: pa.Table, rows: pa.Table) -> pa.Table:
    """Records as JSON lines with sort keys and targets; ``rows`` are the input rows they came from."""
    lines = encode_jsonl(records)
    splits = rows.column(schema.SPLIT).cast(pa.string())
    doc_ids = rows.column(schema.DOC_ID)
    keys = _sort_keys(group, splits, doc_ids)
    targets = pc.binary_join_element_wise(f"{group}/", splits, "").combine_chunks()
    hashes = _row_hashes(doc_ids)
    witnesses = first_passing(keys, hashes, targets, type_checks(records))
    columns = [keys, targets, lines, hashes, witnesses]
    return pa.Table.from_arrays(columns, schema=STREAM_SCHEMA)


def _reject_part(rows: pa.Table) -> pa.Table:
    """Reject records (``REJECT_SCHEMA``) as JSON lines, ordered by stage then ``doc_id``."""
    records = schema.conform(rows, schema.REJECT_SCHEMA)
    lines = encode_jsonl(records)
    doc_ids = records.column(schema.DOC_ID)
    keys = _sort_keys(REJECTS, records.column(schema.REJECT_STAGE), doc_ids)
    targets = pa.array([REJECTS] * records.num_rows, pa.string())
    witnesses = pa.nulls(records.num_rows, pa.list_(pa.string()))  # rejects are Parquet only
    columns = [keys, targets, lines, _row_hashes(doc_ids), witnesses]
    return pa.Table.from_arrays(columns, schema=STREAM_SCHEMA)


def _sort_keys(group: str, sections: pa.ChunkedArray, doc_ids: pa.ChunkedArray) -> pa.Array:
    """``rank, section, doc_id`` joined by a separator that sorts before every printable character.

    Rows sort by this key, then by their JSON line: the line breaks ties between rows with the same
    ``doc_id`` (the same text read from two files), so the order is total and no two layouts of the same
    rows can be written differently.
    """
    parts = [pc.fill_null(column.cast(pa.large_string()), "") for column in (sections, doc_ids)]
    separator = pa.scalar(_KEY_SEPARATOR, pa.large_string())
    rank = pa.scalar(_GROUP_RANK[group], pa.large_string())
    return pc.binary_join_element_wise(rank, *parts, separator).combine_chunks()


def _row_hashes(doc_ids: pa.ChunkedArray) -> pa.Array:
    """CRC-32 of each ``doc_id``: the same in every process and on every machine (unlike ``hash()``)."""
    values = doc_ids.cast(pa.string()).to_pylist()
    return pa.array([zlib.crc32(value.encode()) if value else 0 for value in values], pa.uint32())


def _set_column(table: pa.Table, name: str, value: str) -> pa.Table:
    column = pa.array([value] * table.num_rows, pa.string())
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, column)
    return table.append_column(name, column)
