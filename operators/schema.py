"""Every column name and Arrow type the pipeline uses, in one place.

A row is either a raw *document* (``text``) or an *instruction* pair (``instruction`` / ``input`` /
``output``, and ``messages`` for multi-turn conversations). Both kinds travel in the same table so that
one Ray Dataset carries a whole job; ``kind`` tells them apart.

Rows rejected by a stage stay in the table with ``reject_stage`` and ``reject_reason`` set, so that
nothing is ever dropped silently: the runner routes them to ``rejects/`` at the end.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# Identity and lineage.
DOC_ID = "doc_id"
KIND = "kind"
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
ORIGIN = "origin"
PARENT_ID = "parent_id"
# The input's ``keep_columns`` fields of a row: a compact JSON object, null when none are kept.
# Source fields an input keeps (``keep_columns``): a compact JSON object, null when none.
SOURCE_FIELDS = "source_fields"

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

# A call the LLM engine could not answer, on the row it was for: JSON with reason, detail and the raw
# reply. Steps copy these to the release's dead-letter table and drop the column before writing.
LLM_DEAD_LETTER = "llm_dead_letter"

# A row an LLM stage could not process because the endpoint failed (down, 5xx, timeouts, budget), passed
# on rather than rejected (``llm.on_failure: keep``, or within ``llm.max_failure_rate``):
# ``<stage>:<reason>``, e.g. ``judge:connection_error``; null for rows the stages processed.
LLM_UNPROCESSED = "llm_unprocessed"

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
        (SOURCE_FIELDS, pa.string()),
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
    LLM_UNPROCESSED: pa.string(),
}

#: Provenance columns of generated rows; rows read from inputs carry them as nulls.
PROVENANCE_TYPES: dict[str, pa.DataType] = {
    GEN_MODEL: pa.string(),
    GEN_TEMPLATE: pa.string(),
    GEN_TEMPLATE_VERSION: pa.string(),
    GEN_JUDGE_SCORE: pa.float64(),
}
ADDED_TYPES.update(PROVENANCE_TYPES)

# Columns of a dedup index (``<release>/dedup_index/rows/*.parquet``, read by ``dedup.against``), next to
# ``doc_id``: the 16-byte hash of the normalised text, and the MinHash signature (uint32 x num_perm).
DEDUP_EXACT_HASH = "exact_hash"
DEDUP_SIGNATURE = "minhash_signature"

# Signals of the quality stage (operators/quality.py), one column per rule, so that every rejection can
# be checked against its numbers and a threshold retuned on a past release without rescoring.
QUALITY_WORD_COUNT = "quality_word_count"
QUALITY_MEAN_WORD_LENGTH = "quality_mean_word_length"
QUALITY_SYMBOL_WORD_RATIO = "quality_symbol_word_ratio"
QUALITY_BULLET_LINES = "quality_bullet_lines"
QUALITY_ELLIPSIS_LINES = "quality_ellipsis_lines"
QUALITY_ALPHA_WORDS = "quality_alpha_words"
QUALITY_STOP_WORDS = "quality_stop_words"
QUALITY_DUP_LINES = "quality_dup_lines"
QUALITY_DUP_LINE_CHARS = "quality_dup_line_chars"
QUALITY_DUP_PARAGRAPHS = "quality_dup_paragraphs"
QUALITY_DUP_PARAGRAPH_CHARS = "quality_dup_paragraph_chars"
QUALITY_TOP_NGRAM_CHARS = {n: f"quality_top_{n}gram_chars" for n in (2, 3, 4)}
QUALITY_DUP_NGRAM_CHARS = {n: f"quality_dup_{n}gram_chars" for n in (5, 6, 7, 8, 9, 10)}
QUALITY_TERMINAL_PUNCTUATION = "quality_terminal_punctuation"
QUALITY_RESPONSE_CHARS = "quality_response_chars"
QUALITY_INSTRUCTION_OVERLAP = "quality_instruction_overlap"
QUALITY_REFUSAL = "quality_refusal"
QUALITY_NON_ANSWER = "quality_non_answer"
QUALITY_REPEATED_RUN = "quality_repeated_run"
QUALITY_TRUNCATED = "quality_truncated"
QUALITY_UNSEEN_INPUT = "quality_unseen_input"
QUALITY_IMPOSSIBLE_ACTION = "quality_impossible_action"
QUALITY_UNGROUNDED_URLS = "quality_ungrounded_urls"
QUALITY_PLACEHOLDER = "quality_placeholder"
QUALITY_LENGTH_RATIO = "quality_length_ratio"
QUALITY_CLASSIFIER_SCORE = "quality_classifier_score"
#: Verb/object root of an instruction ("write/poem", "写/诗"), the key of diversity selection.
INSTRUCTION_ROOT = "instruction_root"

QUALITY_TYPES: dict[str, pa.DataType] = {
    QUALITY_WORD_COUNT: pa.int64(),
    QUALITY_MEAN_WORD_LENGTH: pa.float64(),
    QUALITY_SYMBOL_WORD_RATIO: pa.float64(),
    QUALITY_BULLET_LINES: pa.float64(),
    QUALITY_ELLIPSIS_LINES: pa.float64(),
    QUALITY_ALPHA_WORDS: pa.float64(),
    QUALITY_STOP_WORDS: pa.int64(),
    QUALITY_DUP_LINES: pa.float64(),
    QUALITY_DUP_LINE_CHARS: pa.float64(),
    QUALITY_DUP_PARAGRAPHS: pa.float64(),
    QUALITY_DUP_PARAGRAPH_CHARS: pa.float64(),
    **{column: pa.float64() for column in QUALITY_TOP_NGRAM_CHARS.values()},
    **{column: pa.float64() for column in QUALITY_DUP_NGRAM_CHARS.values()},
    QUALITY_TERMINAL_PUNCTUATION: pa.float64(),
    QUALITY_RESPONSE_CHARS: pa.int64(),
    QUALITY_INSTRUCTION_OVERLAP: pa.float64(),
    QUALITY_REFUSAL: pa.bool_(),
    QUALITY_NON_ANSWER: pa.bool_(),
    QUALITY_REPEATED_RUN: pa.int64(),
    QUALITY_TRUNCATED: pa.bool_(),
    QUALITY_UNSEEN_INPUT: pa.bool_(),
    QUALITY_IMPOSSIBLE_ACTION: pa.bool_(),
    QUALITY_UNGROUNDED_URLS: pa.int64(),
    QUALITY_PLACEHOLDER: pa.bool_(),
    QUALITY_LENGTH_RATIO: pa.float64(),
    QUALITY_CLASSIFIER_SCORE: pa.float64(),
    INSTRUCTION_ROOT: pa.string(),
}
ADDED_TYPES.update(QUALITY_TYPES)

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


def conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """``table`` with exactly ``target``'s columns, in order: missing ones null, others cast."""
    columns = []
    for field in target:
        if field.name in table.column_names:
            column = table.column(field.name)
            columns.append(column if column.type == field.type else column.cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=target)


def empty_table(schema: pa.Schema = BASE_SCHEMA) -> pa.Table:
    """Returns a table with no rows and the given schema."""
    return schema.empty_table()


def live_rows(batch: pa.Table) -> pa.Table:
    """Rows no earlier stage rejected."""
    if REJECT_STAGE in batch.column_names:
        return batch.filter(pc.is_null(batch.column(REJECT_STAGE)))
    return batch
