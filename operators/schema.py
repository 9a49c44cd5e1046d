"""Every column name and Arrow type the pipeline uses, in one place.

A row is either a raw *document* (``text``) or an *instruction* pair (``instruction`` / ``input`` /
``output``, and ``messages`` for multi-turn conversations). Both kinds travel in the same table so that
one Ray Dataset carries a whole job; ``kind`` tells them apart.

Rows rejected by a stage stay in the table with ``reject_stage`` and ``reject_reason`` set, so that
nothing is ever dropped silently: the runner routes them to ``rejects/`` at the end.
"""

from __future__ import annotations

import pyarrow as pa

# Identity and lineage.
DOC_ID = "doc_id"
KIND = "kind"
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
ORIGIN = "origin"
PARENT_ID = "parent_id"

# Content.
TEXT = "text"
INSTRUCTION = "instruction"
INPUT = "input"
OUTPUT = "output"
SYSTEM = "system"
MESSAGES = "messages"

# Added by stages.
LANG = "lang"
LANG_SCORE = "lang_score"
CLUSTER_ID = "cluster_id"
QUALITY_SCORE = "quality_score"
SPLIT = "split"

# Provenance of rows made by augmentation (``origin`` holds the method, ``parent_id`` the source row).
GEN_MODEL = "gen_model"
GEN_TEMPLATE = "gen_template"
GEN_TEMPLATE_VERSION = "gen_template_version"
GEN_JUDGE_SCORE = "gen_judge_score"

# Added by the LLM judge: Harmless / Honest / Helpful and overall, 1-5 each; ``judge_score`` is the
# value compared with the threshold; rationales as a JSON object of one line per criterion.
JUDGE_HARMLESS = "judge_harmless"
JUDGE_HONEST = "judge_honest"
JUDGE_HELPFUL = "judge_helpful"
JUDGE_OVERALL = "judge_overall"
JUDGE_SCORE = "judge_score"
JUDGE_RATIONALE = "judge_rationale"
JUDGE_MODEL = "judge_model"

# Rejection bookkeeping.
REJECT_STAGE = "reject_stage"
REJECT_REASON = "reject_reason"

KIND_DOCUMENT = "document"
KIND_INSTRUCTION = "instruction"
ORIGIN_SOURCE = "source"

ROLE_SYSTEM = "system"
ROLE_USER = "user"
ROLE_ASSISTANT = "assistant"

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES_TYPE = pa.list_(MESSAGE_TYPE)

#: Columns every row carries from the reader on.
BASE_SCHEMA = pa.schema(
    [
        (DOC_ID, pa.string()),
        (KIND, pa.string()),
        (SOURCE_FILE, pa.string()),
        (SOURCE_ROW, pa.int64()),
        (ORIGIN, pa.string()),
        (PARENT_ID, pa.string()),
        (TEXT, pa.string()),
        (INSTRUCTION, pa.string()),
        (INPUT, pa.string()),
        (OUTPUT, pa.string()),
        (SYSTEM, pa.string()),
        (MESSAGES, MESSAGES_TYPE),
        (REJECT_STAGE, pa.string()),
        (REJECT_REASON, pa.string()),
    ]
)

#: Columns kept in ``rejects/``: enough to find the row and read what it said.
REJECT_SCHEMA = pa.schema(
    [
        (DOC_ID, pa.string()),
        (REJECT_STAGE, pa.string()),
        (REJECT_REASON, pa.string()),
        (KIND, pa.string()),
        (SOURCE_FILE, pa.string()),
        (SOURCE_ROW, pa.int64()),
        (ORIGIN, pa.string()),
        (TEXT, pa.string()),
        (INSTRUCTION, pa.string()),
        (INPUT, pa.string()),
        (OUTPUT, pa.string()),
        (SYSTEM, pa.string()),
        (MESSAGES, MESSAGES_TYPE),
        (PARENT_ID, pa.string()),
    ]
)

#: Types of the columns that stages add; a stage's ``adds`` must name columns from here or declare its own.
ADDED_TYPES: dict[str, pa.DataType] = {
    LANG: pa.string(),
    LANG_SCORE: pa.float64(),
    CLUSTER_ID: pa.string(),
    QUALITY_SCORE: pa.float64(),
    SPLIT: pa.string(),
}

#: Provenance columns of generated rows; rows read from inputs carry them as nulls.
PROVENANCE_TYPES: dict[str, pa.DataType] = {
    GEN_MODEL: pa.string(),
    GEN_TEMPLATE: pa.string(),
    GEN_TEMPLATE_VERSION: pa.string(),
    GEN_JUDGE_SCORE: pa.float64(),
}
ADDED_TYPES.update(PROVENANCE_TYPES)

#: Columns of the LLM judge; rows it does not judge (documents) carry them as nulls.
JUDGE_TYPES: dict[str, pa.DataType] = {
    JUDGE_HARMLESS: pa.int64(),
    JUDGE_HONEST: pa.int64(),
    JUDGE_HELPFUL: pa.int64(),
    JUDGE_OVERALL: pa.int64(),
    JUDGE_SCORE: pa.float64(),
    JUDGE_RATIONALE: pa.string(),
    JUDGE_MODEL: pa.string(),
}
ADDED_TYPES.update(JUDGE_TYPES)


def empty_table(schema: pa.Schema = BASE_SCHEMA) -> pa.Table:
    """Returns a table with no rows and the given schema."""
    return schema.empty_table()
