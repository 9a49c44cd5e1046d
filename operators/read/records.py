"""Source records to base-schema rows: content ids, lineage, rejected rows, bounded batches.

Used by ``sftforge.operators.read.reader`` for every format, so that a JSONL line, a JSON array element and a Parquet row
with the same content become the same row with the same ``doc_id``. Which source column feeds which
canonical column is ``columns``; whether a record's values are usable is ``fields``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.read.columns import CANONICAL_COLUMNS, ColumnPlan
from sftforge.operators.read.errors import ROW_ERRORS, Rejected, describe_row_error
from sftforge.operators.read.fields import record_fields

if TYPE_CHECKING:
    from sftforge.operators.read.planning import ReadUnit

READ_STAGE = "read"

DEFAULT_MAX_ROW_BYTES = 8 * 1024 * 1024
#: Characters of a rejected row's text, and turns of its conversation, kept as evidence (rejected rows
#: can be arbitrarily large).
REJECT_PREVIEW_CHARS = 4096
REJECT_PREVIEW_TURNS = 64
#: Bounds on one batch of rows.
BATCH_ROWS = 8192
BATCH_BYTES = 32 * 1024 * 1024


def content_id(kind: str, parts: Sequence[str | None]) -> str:
    """Stable id of a row's content: BLAKE2b-128 over the kind and length-prefixed parts (None as "")."""
    digest = hashlib.blake2b(kind.encode(), digest_size=16)
    for part in parts:
        data = (part or "").encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


class RowBuilder:
    """Turns source records (dicts keyed by source column) into base-schema rows, buffered into tables."""

    def __init__(self, unit: ReadUnit, plan: ColumnPlan | None):
        self.unit = unit
        self.plan = plan
        #: The file as lineage names it (``source_file``).
        self.source = unit.source or unit.path
        self._reset()

    def _reset(self) -> None:
        # Only per-row values are buffered; kind, file, origin and parent are constant per unit.
        self.doc_ids: list[str] = []
        self.rows: list[int] = []
        self.content: dict[str, list] = {name: [] for name in CANONICAL_COLUMNS}
        self.reasons: list[str | None] = []
        self.kept_fields: list[str | None] = []
        self._current_kept: str | None = None
        self.buffered_bytes = 0

    def __len__(self) -> int:
        return len(self.doc_ids)

    def full(self) -> bool:
        return len(self) >= BATCH_ROWS or self.buffered_bytes >= BATCH_BYTES

    def flush(self) -> pa.Table:
        """The buffered rows as a base-schema table; empties the buffer."""
        count = len(self)
        reasons = pa.array(self.reasons, pa.string())
        arrays = {
            schema.DOC_ID: pa.array(self.doc_ids, pa.string()),
            schema.KIND: pa.array([self.unit.kind] * count, pa.string()),
            schema.SOURCE_FILE: pa.array([self.source] * count, pa.string()),
            schema.SOURCE_ROW: pa.array(self.rows, pa.int64()),
            schema.ORIGIN: pa.array([schema.ORIGIN_SOURCE] * count, pa.string()),
            schema.REJECT_STAGE: pc.if_else(pc.is_valid(reasons), READ_STAGE, pa.scalar(None, pa.string())),
            schema.REJECT_REASON: reasons,
            schema.SOURCE_FIELDS: pa.array(self.kept_fields, pa.string()),
        }
        for name, values in self.content.items():
            arrays[name] = pa.array(values, schema.BASE_SCHEMA.field(name).type)
        columns = [
            arrays[field.name] if field.name in arrays else pa.nulls(count, field.type)
            for field in schema.BASE_SCHEMA
        ]
        self._reset()
        return pa.Table.from_arrays(columns, schema=schema.BASE_SCHEMA)

    def add_record(self, row: int, record: Mapping[str, Any], raw: str | None = None) -> None:
        """Adds one parsed source record; an unusable record becomes a rejected row.

        Args:
            row: The record's row index in its file.
            record: Source column -> value.
            raw: The record's source text (a JSONL line), kept as evidence if the record is rejected.
        """
        assert self.plan is not None
        self._current_kept = self._kept_json(record)
        try:
            fields = record_fields(self.plan, record, self.unit.max_row_bytes)
        except Rejected as rejected:
            text = rejected.text
            if text is None and not rejected.fields:
                text = raw if raw is not None else _safe_dump(record)
            self.add_rejected(row, rejected.reason, text, rejected.fields)
            return
        except ROW_ERRORS as exc:
            # One row Python cannot convert (nesting too deep, a number too large) is that row's verdict,
            # never the job's.
            text = raw if raw is not None else _safe_dump(record)
            self.add_rejected(row, self.row_error(exc, row), text)
            return
        self._append(row, fields, None)

    def _kept_json(self, record: Mapping[str, Any]) -> str | None:
        """The input's ``keep_columns`` this record has, as compact JSON (None when it has none)."""
        names = self.unit.keep_columns
        if not names:
            return None
        kept = {name: record[name] for name in names if name in record and record[name] is not None}
        if not kept:
            return None
        try:
            text = json.dumps(kept, ensure_ascii=False, separators=(",", ":"), default=str)
            text.encode("utf-8")
        except ROW_ERRORS:
            return None  # a kept field Python cannot write out is dropped, never the row
        return text

    def row_error(self, exc: BaseException, row: int) -> str:
        """The reject reason of a row that failed to convert: the problem, then file:row."""
        return f"unconvertible_row: {describe_row_error(exc)} at {self.source}:{row}"

    def add_rejected(
        self, row: int, reason: str, text: str | None, fields: Mapping[str, Any] | None = None
    ) -> None:
        """Adds a row rejected by the reader, keeping a bounded preview of what it said."""
        fields = {
            name: _preview_turns(value) if name == schema.MESSAGES else _preview(value)
            for name, value in (fields or {}).items()
        }
        if text is not None:
            fields[schema.TEXT] = _preview(text)
        self._append(row, fields, reason)

    def _append(self, row: int, fields: Mapping[str, Any], reason: str | None) -> None:
        kind = self.unit.kind
        if reason is not None:
            parts = [self.source, str(row), reason] + [fields.get(name) for name in CANONICAL_COLUMNS[:5]]
            doc_id = content_id(kind, parts)
        elif kind == schema.KIND_DOCUMENT:
            doc_id = content_id(kind, [fields[schema.TEXT]])
        elif schema.MESSAGES in fields:
            parts = [part for turn in fields[schema.MESSAGES] for part in (turn["role"], turn["content"])]
            doc_id = content_id("conversation", parts)
        else:
            doc_id = content_id(
                kind,
                [
                    fields.get(schema.SYSTEM),
                    fields.get(schema.INSTRUCTION),
                    fields.get(schema.INPUT),
                    fields.get(schema.OUTPUT),
                ],
            )
        self.doc_ids.append(doc_id)
        self.rows.append(row)
        self.reasons.append(reason)
        self.kept_fields.append(self._current_kept)
        self._current_kept = None
        for name, values in self.content.items():
            value = fields.get(name)
            values.append(value)
            if value.__class__ is str:
                self.buffered_bytes += len(value)


def _safe_dump(record: Any) -> str | None:
    try:
        return json.dumps(record, ensure_ascii=False, default=repr)[:REJECT_PREVIEW_CHARS]
    except ROW_ERRORS:
        return None


def _preview(value: Any) -> Any:
    """A bounded, UTF-8-encodable copy of a rejected row's string."""
    if not isinstance(value, str):
        return value
    value = value[:REJECT_PREVIEW_CHARS]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _preview_turns(turns: list[dict[str, str]]) -> list[dict[str, str]]:
    """A bounded copy of a rejected conversation: the first turns, each cut to a preview."""
    return [
        {"role": _preview(turn["role"]), "content": _preview(turn["content"])}
        for turn in turns[:REJECT_PREVIEW_TURNS]
    ]
