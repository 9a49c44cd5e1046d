"""Arrow schemas of the release's record formats and metadata columns, defined once.

- ``messages``: ``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}``, the OpenAI
  chat layout that XTuner's ``openai_map_fn``, TRL and most trainers read.
- ``alpaca``: ``{"instruction", "input", "output", "system", "history"}``, with earlier turns of a
  multi-turn conversation in ``history`` as ``[[user, assistant], ...]`` (the LLaMA-Factory convention).
- ``sharegpt``: ``{"conversations": [{"from": "system"|"human"|"gpt", "value": ...}, ...]}``.
- ``text``: ``{"text"}``, the conversation rendered through a text template (``template.py``).
- ``documents``: ``{"text"}`` for rows of kind ``document``.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from sftforge.operators import schema

SFTFormat = Literal["messages", "alpaca", "sharegpt", "text"]
FileFormat = Literal["parquet", "jsonl"]

DOCUMENTS = "documents"

# Field names of the output formats. They are the formats' names, not pipeline columns.
CONVERSATIONS = "conversations"
HISTORY = "history"
SHAREGPT_FROM = "from"
SHAREGPT_VALUE = "value"
SHAREGPT_ROLES = {schema.ROLE_SYSTEM: "system", schema.ROLE_USER: "human", schema.ROLE_ASSISTANT: "gpt"}

SHAREGPT_TURN_TYPE = pa.struct([(SHAREGPT_FROM, pa.string()), (SHAREGPT_VALUE, pa.string())])

#: The SFT fields of each record format (metadata columns, when kept, follow them).
RECORD_SCHEMAS: dict[str, pa.Schema] = {
    "messages": pa.schema([(schema.MESSAGES, schema.MESSAGES_TYPE)]),
    "alpaca": pa.schema(
        [
            (schema.INSTRUCTION, pa.string()),
            (schema.INPUT, pa.string()),
            (schema.OUTPUT, pa.string()),
            (schema.SYSTEM, pa.string()),
            (HISTORY, pa.list_(pa.list_(pa.string()))),
        ]
    ),
    "sharegpt": pa.schema([(CONVERSATIONS, pa.list_(SHAREGPT_TURN_TYPE))]),
    "text": pa.schema([(schema.TEXT, pa.string())]),
    DOCUMENTS: pa.schema([(schema.TEXT, pa.string())]),
}

#: Columns written beside the record when ``keep_metadata`` is on and the row has them, in this order.
METADATA_SCHEMA = pa.schema(
    [
        (schema.DOC_ID, pa.string()),
        (schema.LANG, pa.string()),
        (schema.QUALITY_SCORE, pa.float64()),
        (schema.CLUSTER_ID, pa.string()),
        (schema.SOURCE_FILE, pa.string()),
        (schema.SOURCE_ROW, pa.int64()),
        (schema.ORIGIN, pa.string()),
        (schema.PARENT_ID, pa.string()),
        *schema.PROVENANCE_TYPES.items(),
        (schema.LLM_UNPROCESSED, pa.string()),
    ]
)


#: Names a kept source field cannot take: the record fields of every format and the metadata columns.
RESERVED_COLUMN_NAMES = frozenset(
    {name for fields in (*RECORD_SCHEMAS.values(), METADATA_SCHEMA) for name in fields.names}
    | {schema.SOURCE_FIELDS, schema.SPLIT, schema.KIND}
)
