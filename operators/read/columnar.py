"""Whole-column conversion of Parquet document batches whose rows need no per-row decision.

``RowBuilder`` (``sftforge.operators.read.records``) takes one record at a time, which costs a few
microseconds a row in Python. A batch of a document file whose text column is valid UTF-8 with no null,
blank or oversized value has nothing for it to decide: every row is live, its ``doc_id`` is the content
hash of its text. ``document_rows`` builds such a batch's base-schema rows with Arrow compute and one
hash call per row, and returns None for any other batch, which the reader then converts row by row. The
rows and ids are exactly those ``RowBuilder`` would make.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.read.columns import ColumnPlan

# Every character ``str.isspace`` accepts: a text of only these is blank (``not text.strip()``). Listed,
# not found by scanning every code point, which would cost each worker process 0.3 s at import; a test
# checks the list against ``str.isspace``.
SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_BLANK = "^[" + "".join(f"\\x{{{ord(char):x}}}" for char in SPACES) + "]*$"
_TEXT_TYPES = (pa.types.is_string, pa.types.is_large_string)


def document_rows(
    batch: pa.RecordBatch, plan: ColumnPlan, kind: str, source: str, first_row: int, max_row_bytes: int
) -> pa.Table | None:
    """The base-schema rows of a document batch, or None when a row needs ``RowBuilder``'s verdict.

    Args:
        batch: Source columns of consecutive rows.
        plan: The file's column plan (a document plan: one source column for ``text``).
        kind: The unit's kind (only ``document`` is converted here).
        source: ``source_file`` of the rows.
        first_row: Index in the file of the batch's first row.
        max_row_bytes: Rows larger than this are rejected, so such a batch goes row by row.
    """
    if kind != schema.KIND_DOCUMENT or batch.num_rows == 0:
        return None
    (name,) = plan.sources[schema.TEXT]
    column = batch.column(name)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if not any(check(column.type) for check in _TEXT_TYPES) or column.null_count:
        return None
    try:
        column.validate(full=True)  # invalid UTF-8 is a per-row reject
    except pa.ArrowInvalid:
        return None
    if pc.max(pc.binary_length(column)).as_py() > max_row_bytes:
        return None
    if pc.any(pc.match_substring_regex(column, _BLANK)).as_py():
        return None
    texts = column.cast(pa.string())
    count = len(texts)
    seed = hashlib.blake2b(kind.encode(), digest_size=16)
    ids = pa.array([_content_id(seed, data) for data in texts.cast(pa.binary()).to_pylist()], pa.string())
    constant = {
        schema.KIND: kind,
        schema.SOURCE_FILE: source,
        schema.ORIGIN: schema.ORIGIN_SOURCE,
    }
    arrays = {
        schema.DOC_ID: ids,
        schema.SOURCE_ROW: pa.array(np.arange(first_row, first_row + count, dtype=np.int64)),
        schema.TEXT: texts,
        **{key: pa.array([value] * count, pa.string()) for key, value in constant.items()},
    }
    columns = [arrays.get(field.name, pa.nulls(count, field.type)) for field in schema.BASE_SCHEMA]
    return pa.Table.from_arrays(columns, schema=schema.BASE_SCHEMA)


def _content_id(seed, data: bytes) -> str:
    """``records.content_id(kind, [text])`` from the kind's started hash and the text's UTF-8 bytes."""
    digest = seed.copy()
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)
    return digest.hexdigest()
