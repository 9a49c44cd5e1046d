"""Small final-row tables for release tests: instruction rows (single and multi-turn, some with a system
prompt, lineage or kept source fields) and documents, as they reach the release writer."""

from __future__ import annotations

import json

import pyarrow as pa
from sftforge.operators import schema

SPLITS = ("train", "train", "validation", "test")


def final_rows(count: int = 48) -> pa.Table:
    """``count`` live rows; every 8th a document, every 5th multi-turn, every 7th with a system prompt.

    The optional values (system prompt, multi-turn messages, quality score, parent, kept source fields)
    come in runs, so that with ``shard_rows=3`` some shards hold none of them (a column all-empty in a
    shard) and others do.
    """
    rows = []
    for i in range(count):
        document = i % 8 == 0
        multi = i % 5 == 0 and not document
        run = (i // 6) % 2 == 0  # rows 0-5, 12-17, ... carry the optional values
        rows.append(
            {
                schema.DOC_ID: f"d{i:04d}",
                schema.KIND: schema.KIND_DOCUMENT if document else schema.KIND_INSTRUCTION,
                schema.TEXT: f"Document {i} about rivers. 第{i}篇。" if document else None,
                schema.INSTRUCTION: None if document else f"Question {i}: how long is the Yangtze?",
                schema.INPUT: None if document else ("" if i % 3 else "briefly"),
                schema.OUTPUT: None if document else f"Answer {i}: about 6300 km.",
                schema.SYSTEM: "Be brief." if run and i % 7 == 0 and not document else None,
                schema.MESSAGES: [
                    {"role": "user", "content": f"Hi {i}"},
                    {"role": "assistant", "content": "Hello."},
                    {"role": "user", "content": f"Question {i}?"},
                    {"role": "assistant", "content": f"Answer {i}."},
                ]
                if multi and run
                else None,
                schema.LANG: "en" if i % 2 else "zh",
                schema.QUALITY_SCORE: (i % 10) / 10 if run else None,
                schema.ORIGIN: schema.ORIGIN_SOURCE,
                schema.PARENT_ID: f"p{i}" if run else None,
                schema.SOURCE_FIELDS: json.dumps({"id": f"src-{i}", "domain": "geo", "n": i})
                if run
                else None,
                schema.SPLIT: SPLITS[i % 4],
            }
        )
    types = {field.name: field.type for field in schema.BASE_SCHEMA}
    types.update(schema.ADDED_TYPES)
    types[schema.SOURCE_FIELDS] = pa.string()
    return pa.table({name: pa.array([row[name] for row in rows], types[name]) for name in rows[0]})
