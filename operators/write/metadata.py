"""The metadata columns written beside a record: the row's own (id, language, scores, lineage) and the
kept source fields, with an empty string value written as ``""`` so that every shard types it alike."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.write.schemas import METADATA_SCHEMA, RESERVED_COLUMN_NAMES


def with_metadata(records: pa.Table, rows: pa.Table) -> pa.Table:
    """Appends the metadata columns that ``rows`` has, typed as in ``METADATA_SCHEMA``; NaN scores become
    null, since JSON has no NaN."""
    for field in METADATA_SCHEMA:
        if field.name not in rows.column_names:
            continue
        column = rows.column(field.name)
        if column.type != field.type:
            column = column.cast(field.type)
        if pa.types.is_floating(field.type):
            column = pc.if_else(pc.is_nan(column), pa.scalar(None, field.type), column)
        records = records.append_column(field, column)
    return records


def check_kept_columns(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The kept source field names, checked: distinct, non-empty, none a reserved column name.

    Raises:
        ValueError: A name is empty, repeated, or the name of a record field or metadata column.
    """
    clashes = sorted(set(names) & RESERVED_COLUMN_NAMES)
    if clashes:
        raise ValueError(
            f"keep_columns {clashes} clash with the release's own columns; rename them at the source "
            f"(reserved: {sorted(RESERVED_COLUMN_NAMES)})"
        )
    if any(not name or not name.strip() for name in names) or len(set(names)) != len(names):
        raise ValueError(f"keep_columns must be distinct non-empty names, got {list(names)}")
    return tuple(names)


def source_field_names(rows: pa.Table) -> list[str]:
    """The keys of the rows' ``source_fields`` objects, sorted (when no kept names are configured)."""
    if schema.SOURCE_FIELDS not in rows.column_names:
        return []
    names = set()
    for text in rows.column(schema.SOURCE_FIELDS).to_pylist():
        if text:
            names.update(json.loads(text))
    return sorted(names - RESERVED_COLUMN_NAMES)


def with_kept_columns(records: pa.Table, rows: pa.Table, names) -> pa.Table:
    """Appends one string column per kept name from the rows' ``source_fields`` (compact JSON objects).

    A string value is written as is, any other value as its JSON text; a row without the field gets
    ``""`` so that the column has one type in every shard.
    """
    if not names:
        return records
    texts = (
        rows.column(schema.SOURCE_FIELDS).to_pylist()
        if schema.SOURCE_FIELDS in rows.column_names
        else [None] * rows.num_rows
    )
    parsed = [json.loads(text) if text else {} for text in texts]
    for name in names:
        values = []
        for fields in parsed:
            value = fields.get(name)
            if value is None:
                values.append("")
            else:
                values.append(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        records = records.append_column(pa.field(name, pa.string()), pa.array(values, pa.string()))
    return records


def empty_strings_for_nulls(records: pa.Table) -> pa.Table:
    """Top-level string columns with ``""`` for null, so every shard types them as strings."""
    for index, field in enumerate(records.schema):
        if pa.types.is_string(field.type) and records.column(index).null_count:
            records = records.set_column(index, field, pc.fill_null(records.column(index), ""))
    return records
