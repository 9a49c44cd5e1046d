"""Readers: Parquet, JSONL and JSON array files into batches of the base schema.

Reading happens in two steps so that unusable inputs fail before any heavy work starts:

1. ``plan_read_units(spec)`` expands an ``InputSpec`` (a file, a directory, a glob or a list of those, on
   any fsspec filesystem) into ``ReadUnit`` s on the driver. It raises ``InputError`` naming the path for a
   pattern that matches nothing, a format it cannot infer, or a Parquet file whose footer is unreadable.
   A Parquet file becomes one unit per range of row groups (bounded work per unit); any other file is one
   unit.
2. ``read_unit(unit)`` streams one unit into ``pyarrow.Table`` batches of ``schema.BASE_SCHEMA``, with a
   bounded number of rows and bytes each.

Every source row comes out as exactly one row: either live, or rejected by stage ``read`` with a reason
(``invalid_utf8``, ``invalid_json: ...``, ``null_text``, ``empty_text``, ``row_too_large: N bytes > M``,
``missing_instruction``, ``missing_output``, ...) and whatever text could be recovered, so that input rows
always equal live rows plus rejected rows. A blank line in a JSONL file counts as a row and is rejected as
``empty_line``; ``source_row`` is then the 0-based line number, which makes a row easy to find again.
A file that cannot be read at all (corrupt Parquet, a configured column missing, a JSON array that is not
valid JSON) raises ``InputError`` naming the file instead. An empty file yields nothing.

``doc_id`` is a content hash (BLAKE2b, 128 bits) of the row's kind and content fields, so the same content
gets the same id in any file, on any worker, on every run. A rejected row's id also covers its file and
row, because rejects often share content (two blank lines are still two rows).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sftforge.operators import schema
from sftforge.operators.read.columnar import document_rows
from sftforge.operators.read.columns import ColumnPlan, resolve_columns
from sftforge.operators.read.errors import ROW_ERRORS, InputError, Rejected, describe_row_error
from sftforge.operators.read.files import open_binary, open_parquet
from sftforge.operators.read.planning import ReadUnit
from sftforge.operators.read.records import BATCH_BYTES, BATCH_ROWS, REJECT_PREVIEW_CHARS, RowBuilder


def read_unit(unit: ReadUnit) -> Iterator[pa.Table]:
    """Streams one unit into base-schema batches (at most ``BATCH_ROWS`` rows, about ``BATCH_BYTES``).

    Raises InputError naming the file when the file as a whole cannot be read.
    """
    if unit.format == "parquet":
        yield from _read_parquet(unit)
    elif unit.format == "jsonl":
        yield from _read_jsonl(unit)
    elif unit.format == "json":
        yield from _read_json(unit)
    else:
        raise InputError(unit.path, f"unknown format '{unit.format}'")


def read_table(unit: ReadUnit) -> pa.Table:
    """All batches of a unit as one table (tests, small files)."""
    batches = list(read_unit(unit))
    return pa.concat_tables(batches) if batches else schema.empty_table()


def _open_text_stream(unit: ReadUnit) -> io.BufferedIOBase:
    raw = open_binary(unit.path)
    if unit.compression is None:
        return io.BufferedReader(raw, buffer_size=1024 * 1024)
    stream = pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), unit.compression)
    return io.BufferedReader(stream, buffer_size=1024 * 1024)


def _iter_lines(stream, max_bytes: int) -> Iterator[tuple[int, bytes | None, bytes, int]]:
    """Yields ``(line_no, line, head, size)``; ``line`` is None for a line longer than ``max_bytes``.

    A giant line is never held whole: its head is kept as evidence and the rest is skipped in chunks.
    """
    line_no = 0
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            head, size = line[: REJECT_PREVIEW_CHARS * 4], len(line)
            while True:
                chunk = stream.readline(1024 * 1024)
                size += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield line_no, None, head, size - (1 if chunk.endswith(b"\n") else 0)
        else:
            yield line_no, line, b"", len(line)
        line_no += 1


def _read_jsonl(unit: ReadUnit) -> Iterator[pa.Table]:
    builder = RowBuilder(unit, None)
    with _open_text_stream(unit) as stream:
        try:
            for line_no, line, head, size in _iter_lines(stream, unit.max_row_bytes):
                _add_json_line(builder, line_no, line, head, size)
                if builder.full():
                    yield builder.flush()
        except (OSError, pa.ArrowException, EOFError) as exc:
            raise InputError(unit.path, f"cannot read the file ({exc})") from exc
    if len(builder):
        yield builder.flush()


def _add_json_line(
    builder: RowBuilder,
    line_no: int,
    line: bytes | None,
    head: bytes,
    size: int,
) -> None:
    unit = builder.unit
    if line is None:
        builder.add_rejected(
            line_no, f"row_too_large: {size} bytes > {unit.max_row_bytes}", head.decode("utf-8", "replace")
        )
        return
    if line_no == 0 and line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        builder.add_rejected(
            line_no, f"invalid_utf8: byte {exc.start}", line.decode("utf-8", "replace").rstrip("\r\n")
        )
        return
    if not text.strip():
        builder.add_rejected(line_no, "empty_line", None)
        return
    text = text.rstrip("\r\n")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        builder.add_rejected(line_no, f"invalid_json: {exc.msg}: column {exc.colno}", text)
        return
    except ROW_ERRORS as exc:
        builder.add_rejected(line_no, f"invalid_json: {describe_row_error(exc)} at {builder.source}:{line_no}", text)
        return
    _add_record(builder, line_no, record, text)


def _add_record(builder: RowBuilder, row: int, record: Any, raw: str | None) -> None:
    if not isinstance(record, dict):
        evidence = raw if raw is not None else json.dumps(record, ensure_ascii=False)[:REJECT_PREVIEW_CHARS]
        builder.add_rejected(row, f"not_an_object: {type(record).__name__}", evidence)
        return
    unit = builder.unit
    if builder.plan is None:
        # The first object decides the columns of the file, as a Parquet schema would; optional columns
        # (input, system) are looked up in each record.
        builder.plan = resolve_columns(
            unit.kind, dict(unit.columns), list(record), unit.path, optional_per_record=True
        )
    plan = builder.plan
    if not _fits(plan, record) and not unit.columns:
        # Merged files mix schemas (question/answer rows beside instruction/output rows): a row the
        # file's plan does not fit is mapped by its own keys, or rejected naming them.
        try:
            plan = resolve_columns(unit.kind, {}, list(record), unit.path, optional_per_record=True)
        except InputError:
            if set(record) & set(plan.source_columns):
                builder.add_record(row, record, raw)  # the file's schema with a field missing
                return
            keys = ", ".join(sorted(map(str, record))[:12]) or "none"
            builder.add_rejected(row, f"unmapped_row: no usable columns; keys found: {keys}", raw)
            return
    if plan is builder.plan:
        builder.add_record(row, record, raw)
        return
    file_plan, builder.plan = builder.plan, plan
    try:
        builder.add_record(row, record, raw)
    finally:
        builder.plan = file_plan


def _fits(plan: ColumnPlan, record: Mapping[str, Any]) -> bool:
    """Whether every required column of ``plan`` (one candidate) is a key of ``record``."""
    return all(
        len(names) != 1 or names[0] in record
        for canonical, names in plan.sources.items()
        if canonical not in (schema.INPUT, schema.SYSTEM)
    )


def _read_json(unit: ReadUnit) -> Iterator[pa.Table]:
    with _open_text_stream(unit) as stream:
        try:
            first = stream.peek(4096)[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        except (OSError, pa.ArrowException) as exc:
            raise InputError(unit.path, f"cannot read the file ({exc})") from exc
        if first.startswith(b"{"):
            # Many ".json" files are JSON Lines; reading them as such keeps memory bounded.
            yield from _read_jsonl(ReadUnit(**{**asdict(unit), "format": "jsonl"}))
            return
        # A JSON array is parsed whole: there is no streaming parser in the standard library.
        data = stream.read()
    if not data.strip():
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            unit.path, f"invalid UTF-8 at byte {exc.start}; the JSON array cannot be parsed"
        ) from exc
    del data
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            unit.path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ROW_ERRORS as exc:
        # A JSON array is parsed whole, so one bad element spoils the file; JSON Lines reject the row.
        raise InputError(unit.path, f"cannot parse the JSON array: {describe_row_error(exc)}") from exc
    del text
    if not isinstance(records, list):
        raise InputError(
            unit.path, f"expected a JSON array of objects, found a JSON {type(records).__name__}"
        )
    builder = RowBuilder(unit, None)
    for index, record in enumerate(records):
        _add_record(builder, index, record, None)
        records[index] = None  # lets parsed rows go as soon as they are converted
        if builder.full():
            yield builder.flush()
    if len(builder):
        yield builder.flush()


_SCALAR_TYPES = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_string_view,
    pa.types.is_binary,
    pa.types.is_large_binary,
    pa.types.is_dictionary,
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_boolean,
    pa.types.is_null,
    pa.types.is_decimal,
)


def _read_parquet(unit: ReadUnit) -> Iterator[pa.Table]:
    with open_parquet(unit.path) as parquet:
        yield from _read_parquet_file(unit, parquet)


def _read_parquet_file(unit: ReadUnit, parquet: pq.ParquetFile) -> Iterator[pa.Table]:
    arrow_schema = parquet.schema_arrow
    plan = resolve_columns(unit.kind, dict(unit.columns), arrow_schema.names, unit.path)
    for canonical, (source,) in plan.sources.items():
        type_ = arrow_schema.field(source).type
        if canonical != schema.MESSAGES and not any(check(type_) for check in _SCALAR_TYPES):
            raise InputError(
                unit.path, f"column '{source}' (for '{canonical}') has type {type_}, expected text"
            )
    read_columns = plan.source_columns + [
        name for name in unit.keep_columns if name in arrow_schema.names and name not in plan.source_columns
    ]
    metadata = parquet.metadata
    groups = list(unit.row_groups) or list(range(metadata.num_row_groups))
    builder = RowBuilder(unit, plan)
    row = unit.first_row
    whole: list[pa.Table] = []  # batches converted column by column, not yet yielded
    try:
        for group in groups:
            meta = metadata.row_group(group)
            # Bounds batch memory for files with very large rows, from the footer's size estimate.
            average = max(1, meta.total_byte_size // max(1, meta.num_rows))
            batch_rows = max(1, min(BATCH_ROWS, BATCH_BYTES // average))
            for batch in parquet.iter_batches(
                batch_size=batch_rows, row_groups=[group], columns=read_columns, use_threads=False
            ):
                table = None if unit.keep_columns else document_rows(
                    batch, plan, unit.kind, builder.source, row, unit.max_row_bytes
                )
                if table is not None:
                    if len(builder):
                        yield builder.flush()
                    row += table.num_rows
                    whole.append(table)
                    if _full(whole):
                        yield pa.concat_tables(whole)
                        whole = []
                    continue
                if whole:
                    yield pa.concat_tables(whole)
                    whole = []
                for record, rejected in _parquet_records(batch, plan):
                    if rejected is not None:
                        builder.add_rejected(row, rejected.reason, rejected.text, rejected.fields)
                    else:
                        builder.add_record(row, record)
                    row += 1
                    if builder.full():
                        yield builder.flush()
    except (OSError, pa.ArrowException) as exc:
        raise InputError(unit.path, f"cannot read row group data ({exc})") from exc
    if whole:
        yield pa.concat_tables(whole)
    if len(builder):
        yield builder.flush()


def _full(tables: list[pa.Table]) -> bool:
    rows = sum(table.num_rows for table in tables)
    return rows >= BATCH_ROWS or sum(table.nbytes for table in tables) >= BATCH_BYTES


def _parquet_records(
    batch: pa.RecordBatch, plan: ColumnPlan
) -> Iterator[tuple[dict[str, Any], Rejected | None]]:
    names = batch.schema.names
    values: dict[str, list] = {}
    bad_utf8: dict[int, str] = {}
    for name in names:
        column = batch.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            values[name] = _decode_binary(column, name, bad_utf8)
            continue
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                values[name] = _decode_binary(column.cast(pa.large_binary()), name, bad_utf8)
                continue
        values[name] = column.to_pylist()
    for index in range(batch.num_rows):
        record = {name: values[name][index] for name in names}
        if index in bad_utf8:
            yield (
                record,
                Rejected(
                    f"invalid_utf8: column {bad_utf8[index]}", text=None, fields=_recovered(record, plan)
                ),
            )
        else:
            yield record, None


def _decode_binary(column: pa.Array, name: str, bad_utf8: dict[int, str]) -> list[str | None]:
    decoded = []
    for index, value in enumerate(column.to_pylist()):
        if value is None:
            decoded.append(None)
            continue
        try:
            decoded.append(value.decode("utf-8"))
        except UnicodeDecodeError:
            decoded.append(value.decode("utf-8", "replace"))
            bad_utf8.setdefault(index, name)
    return decoded


def _recovered(record: Mapping[str, Any], plan: ColumnPlan) -> dict[str, Any]:
    return {canonical: value for canonical, value in plan.values(record).items() if isinstance(value, str)}
