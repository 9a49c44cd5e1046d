"""Exact deduplication: rows whose normalised text is identical are one row.

The text of a row (a document's text; an instruction pair's instruction + input + output, or its
instruction + input alone with ``key: instruction``) is normalised as configured and hashed with
128-bit BLAKE2b. Within a group of equal hashes the best row by the keep rule survives; the others
are rejected with a reason naming it.

``jobs/dedup/exact.py`` runs these functions over a whole Ray Dataset, grouping hashes with a shuffle.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.dedup.config import DedupKey, ExactDedupConfig
from sftforge.operators.dedup.hashing import digests_array
from sftforge.operators.text import row_texts

STAGE_NAME = "dedup.exact"
#: Whitespace (ASCII and Unicode separators) that is not already a single space.
_WHITESPACE = r"[\s\p{Z}]{2,}|[^ \PZ]|[\t\n\v\f\r]"


def dedup_texts(table: pa.Table, key: DedupKey) -> pa.Array:
    """The text each row is compared on.

    A document's text; an instruction pair's instruction, input and output (``all``) or instruction and
    input (``instruction``). A multi-turn conversation is compared on every turn (``all``) or every
    system and user turn (``instruction``): its instruction and output columns hold only the first
    question and the last answer, which two different conversations may share.
    """
    texts = row_texts(table, "content" if key == "all" else "instruction")
    if schema.MESSAGES in table.column_names and table.column(schema.MESSAGES).null_count < table.num_rows:
        roles = None if key == "all" else {schema.ROLE_SYSTEM, schema.ROLE_USER}
        for row, turns in enumerate(table.column(schema.MESSAGES).to_pylist()):
            if turns:
                texts[row] = "\n".join(
                    turn.get("content") or "" for turn in turns if roles is None or turn.get("role") in roles
                )
    return pa.array(texts, type=pa.string())


def normalize(texts: pa.Array, config: ExactDedupConfig) -> pa.Array:
    """Applies the configured normalisation with Arrow kernels (no Python loop)."""
    if config.ignore_case:
        texts = pc.utf8_lower(texts)
    if config.ignore_punctuation:
        texts = pc.replace_substring_regex(texts, pattern=r"[\p{P}\p{S}]+", replacement=" ")
    if config.ignore_digits:
        texts = pc.replace_substring_regex(texts, pattern=r"\p{Nd}", replacement="0")
    if config.ignore_whitespace:
        # Only runs of two or more, and single non-space separators, need replacing: matching every
        # single space as well makes this the slowest step of the key pass.
        texts = pc.utf8_trim_whitespace(
            pc.replace_substring_regex(texts, pattern=_WHITESPACE, replacement=" ")
        )
    return texts


def exact_hashes(texts: pa.Array, config: ExactDedupConfig) -> pa.FixedSizeBinaryArray:
    """128-bit BLAKE2b of each normalised text, as ``fixed_size_binary(16)``."""
    normalised = normalize(texts, config)
    if isinstance(normalised, pa.ChunkedArray):
        normalised = normalised.combine_chunks()
    normalised = pc.fill_null(normalised, "")
    if normalised.type != pa.large_string():
        normalised = normalised.cast(pa.large_string())
    buffers = normalised.buffers()
    offsets = np.frombuffer(
        buffers[1], dtype=np.int64, count=len(normalised) + 1, offset=normalised.offset * 8
    )
    data = memoryview(buffers[2]) if buffers[2] is not None else memoryview(b"")
    digests = [
        hashlib.blake2b(data[begin:end], digest_size=16).digest()
        for begin, end in zip(offsets[:-1].tolist(), offsets[1:].tolist())
    ]
    return digests_array(digests)


def exact_reason(survivor_doc_id: str, survivor_location: str | None, source: str | None = None) -> str:
    """Reject reason of a row whose normalised text equals its survivor's."""
    where = f" at {survivor_location}" if survivor_location else ""
    if source:
        return (
            f"exact duplicate of doc_id {survivor_doc_id}{where} kept in an earlier release "
            f"(dedup index {source}); similarity 1.00"
        )
    return f"exact duplicate of kept doc_id {survivor_doc_id}{where}; similarity 1.00 (normalised text identical)"
