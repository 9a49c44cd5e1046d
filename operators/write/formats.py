"""SFT record formats and sharded Parquet / JSONL writing. Pure: no Ray, no knowledge of releases.

Instruction rows become records of one of three formats, each an Arrow schema defined once below:

- ``messages``: ``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}``, the OpenAI
  chat layout that XTuner's ``openai_map_fn``, TRL and most trainers read.
- ``alpaca``: ``{"instruction", "input", "output", "system", "history"}``, with earlier turns of a
  multi-turn conversation in ``history`` as ``[[user, assistant], ...]`` (the LLaMA-Factory convention).
- ``sharegpt``: ``{"conversations": [{"from": "system"|"human"|"gpt", "value": ...}, ...]}``.

Documents (rows of kind ``document``) are never forced into a chat format: they become ``{"text"}``
records. With ``keep_metadata``, the row's id, language, quality score, cluster and lineage columns follow
the record's own fields.

Shards are written by ``sftforge.operators.write.shards.ShardWriter`` (re-exported here).

A row that cannot form a valid conversation (no instruction, an empty answer, turns that do not
alternate) is not written and not dropped either: the formatter returns it with a reason, and the
release writer puts it in ``rejects/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator
from sftforge.operators import schema
from sftforge.operators.base import StageConfig, with_reasons
from sftforge.operators.write.shards import SchemaChangedError, ShardFile, ShardWriter, file_sha256

SFTFormat = Literal["messages", "alpaca", "sharegpt"]
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
    ]
)


class OutputConfig(StageConfig):
    """Where and how the release is written.

    Attributes:
        dir: Local folder that holds releases (``<dir>/<release>/...``) and the ``LATEST`` pointer.
            ``file://`` URLs are accepted; object stores are not, because publishing relies on an atomic
            rename.
        sft_format: Record format of instruction rows.
        file_formats: File formats each shard is written in (same rows, same order in each).
        shard_rows: Rows per shard file; only the last shard of an output is shorter.
        system_prompt: System message for rows that bring none of their own.
        keep_metadata: Write id, language, quality, cluster and lineage columns beside the record.
        min_rows: A release with fewer rows (records plus documents) is not published (``--force`` does).
        max_shrink: When set, a release with fewer rows than this fraction of the previous release's is
            not published (``--force`` does).
    """

    dir: str
    sft_format: SFTFormat = "messages"
    file_formats: list[FileFormat] = Field(default_factory=lambda: ["parquet", "jsonl"], min_length=1)
    shard_rows: int = Field(default=100_000, gt=0)
    system_prompt: str | None = None
    keep_metadata: bool = True
    min_rows: int = Field(default=1, ge=0)
    max_shrink: float | None = Field(default=None, gt=0, le=1)

    @field_validator("dir")
    @classmethod
    def _dir_is_local(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("output.dir is empty")
        if value.startswith("file://"):
            return value.removeprefix("file://")
        if "://" in value:
            raise ValueError(
                f"output.dir '{value}' is a remote URL; releases are published with an atomic rename, "
                "so output.dir must be a local or mounted folder"
            )
        return value

    @field_validator("file_formats")
    @classmethod
    def _file_formats_are_distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"output.file_formats lists a format twice: {value}")
        return value


class RecordError(ValueError):
    """A table of records does not match its format's schema or rules; names the row and the rule."""


class InvalidConversation(ValueError):
    """One row cannot form a valid conversation; the message is its reject reason."""


@dataclass(frozen=True)
class FormattedBatch:
    """Records built from a batch of rows.

    Attributes:
        records: One record per writable row, in input order, with the format's schema followed by the
            kept metadata columns.
        rejected: Input rows that cannot be written, with ``reject_reason`` set.
        written: Per input row, whether it became a record (``records`` holds those rows, in order).
    """

    records: pa.Table
    rejected: pa.Table
    written: pa.BooleanArray


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def conversation_turns(
    instruction: str | None,
    input_: str | None,
    output: str | None,
    system: str | None,
    messages: list[dict] | None,
    default_system: str | None = None,
) -> tuple[str | None, list[tuple[str, str]]]:
    """Returns a row's system prompt and its user / assistant turns.

    A non-empty ``messages`` list is the conversation (a leading system message is taken as the system
    prompt); otherwise the user turn is the instruction, followed by the input after a blank line, and
    the assistant turn is the output. The row's ``system`` wins over a system message, which wins over
    ``default_system``.

    Raises:
        InvalidConversation: No instruction or answer, a blank turn, an unknown role, or turns that do
            not alternate user / assistant starting with the user and ending with the assistant.
    """
    own_system = None
    if messages:
        turns = []
        for index, message in enumerate(messages):
            role, content = message.get("role"), message.get("content")
            if role == schema.ROLE_SYSTEM:
                if index != 0:
                    raise InvalidConversation(f"message {index} is a system message after the first turn")
                own_system = None if _blank(content) else content
                continue
            if role not in (schema.ROLE_USER, schema.ROLE_ASSISTANT):
                raise InvalidConversation(f"message {index} has role {role!r}, not user or assistant")
            if _blank(content):
                raise InvalidConversation(f"message {index} ({role}) has no content")
            expected = schema.ROLE_USER if len(turns) % 2 == 0 else schema.ROLE_ASSISTANT
            if role != expected:
                raise InvalidConversation(
                    f"message {index} is {role} where {expected} was expected "
                    "(turns must alternate user / assistant, starting with user)"
                )
            turns.append((role, content))
        if not turns:
            raise InvalidConversation("conversation has no user or assistant turn")
        if turns[-1][0] != schema.ROLE_ASSISTANT:
            raise InvalidConversation("conversation ends with a user turn, not an assistant answer")
    else:
        if _blank(instruction):
            raise InvalidConversation("instruction is empty")
        if _blank(output):
            raise InvalidConversation("output is empty")
        prompt = instruction if _blank(input_) else f"{instruction}\n\n{input_}"
        turns = [(schema.ROLE_USER, prompt), (schema.ROLE_ASSISTANT, output)]
    for candidate in (system, own_system, default_system):
        if not _blank(candidate):
            return candidate, turns
    return None, turns


def messages_record(system: str | None, turns: list[tuple[str, str]]) -> dict:
    """``{"messages": [...]}`` with the system message first when there is one."""
    messages = [{"role": schema.ROLE_SYSTEM, "content": system}] if system is not None else []
    messages.extend({"role": role, "content": content} for role, content in turns)
    return {schema.MESSAGES: messages}


def sharegpt_record(system: str | None, turns: list[tuple[str, str]]) -> dict:
    """``{"conversations": [{"from", "value"}, ...]}`` with human / gpt turns."""
    conversation = [{SHAREGPT_FROM: "system", SHAREGPT_VALUE: system}] if system is not None else []
    conversation.extend(
        {SHAREGPT_FROM: SHAREGPT_ROLES[role], SHAREGPT_VALUE: content} for role, content in turns
    )
    return {CONVERSATIONS: conversation}


def alpaca_record(
    system: str | None,
    turns: list[tuple[str, str]],
    instruction: str | None = None,
    input_: str | None = None,
) -> dict:
    """Alpaca fields; earlier turns go to ``history``.

    A single-turn row keeps its own instruction and input apart; a multi-turn row's last user turn is
    the instruction, with an empty input.
    """
    history = [[turns[i][1], turns[i + 1][1]] for i in range(0, len(turns) - 2, 2)]
    if len(turns) == 2 and instruction is not None:
        prompt, extra = instruction, input_ or ""
    else:
        prompt, extra = turns[-2][1], ""
    return {
        schema.INSTRUCTION: prompt,
        schema.INPUT: extra,
        schema.OUTPUT: turns[-1][1],
        schema.SYSTEM: system,
        HISTORY: history,
    }


def _column(table: pa.Table, name: str) -> list:
    if name not in table.column_names:
        return [None] * table.num_rows
    return table.column(name).to_pylist()


def document_mask(table: pa.Table) -> pa.ChunkedArray | pa.Array:
    """True for rows of kind ``document``; without a ``kind`` column, rows with neither an instruction
    nor messages."""
    if schema.KIND in table.column_names:
        return pc.fill_null(pc.equal(table.column(schema.KIND), schema.KIND_DOCUMENT), False)
    has_prompt = pa.array([False] * table.num_rows)
    for column in (schema.INSTRUCTION, schema.MESSAGES):
        if column in table.column_names:
            has_prompt = pc.or_(has_prompt, pc.is_valid(table.column(column)))
    return pc.invert(has_prompt)


class SFTFormatter:
    """Turns live rows into records: instruction rows in the configured SFT format, documents as text."""

    def __init__(self, config: OutputConfig):
        self.config = config
        self.record_schema = RECORD_SCHEMAS[config.sft_format]

    def format_instructions(self, table: pa.Table) -> FormattedBatch:
        """Builds one SFT record per instruction row; rows that cannot form a conversation are rejected.

        Single-turn rows (no ``messages``) are built with Arrow kernels; multi-turn rows go through
        ``conversation_turns`` one by one. Both give the same records (a test holds them together).
        """
        multi = _multi_turn_mask(table)
        reasons: list[str | None] = [None] * table.num_rows
        built, positions = [], []
        for rows, build in (
            (np.flatnonzero(~multi), self._single_turn),
            (np.flatnonzero(multi), self._turn_by_turn),
        ):
            if not len(rows):
                continue
            records, row_reasons = build(table.take(rows))
            for row, reason in zip(rows.tolist(), row_reasons):
                reasons[row] = reason
            built.append(records)
            positions.append(rows[[reason is None for reason in row_reasons]])
        if built:
            records = pa.concat_tables(built)
            order = np.argsort(np.concatenate(positions), kind="stable")
            records = records.take(order) if len(built) > 1 else records
        else:
            records = self.record_schema.empty_table()
        keep = [reason is None for reason in reasons]
        return self._finish(
            table, records, keep, [r for r in reasons if r is not None], self.config.sft_format
        )

    def _turn_by_turn(self, table: pa.Table) -> tuple[pa.Table, list[str | None]]:
        fmt = self.config.sft_format
        records, reasons = [], []
        columns = zip(
            _column(table, schema.INSTRUCTION),
            _column(table, schema.INPUT),
            _column(table, schema.OUTPUT),
            _column(table, schema.SYSTEM),
            _column(table, schema.MESSAGES),
        )
        for instruction, input_, output, system, messages in columns:
            try:
                system, turns = conversation_turns(
                    instruction, input_, output, system, messages, self.config.system_prompt
                )
            except InvalidConversation as invalid:
                reasons.append(f"cannot write as {fmt}: {invalid}")
                continue
            if fmt == "messages":
                records.append(messages_record(system, turns))
            elif fmt == "sharegpt":
                records.append(sharegpt_record(system, turns))
            else:
                records.append(alpaca_record(system, turns, None if messages else instruction, input_))
            reasons.append(None)
        return pa.Table.from_pylist(records, schema=self.record_schema), reasons

    def _single_turn(self, table: pa.Table) -> tuple[pa.Table, list[str | None]]:
        fmt = self.config.sft_format
        instruction, input_, output, system = (
            _string_column(table, name)
            for name in (schema.INSTRUCTION, schema.INPUT, schema.OUTPUT, schema.SYSTEM)
        )
        no_instruction, no_output = _blank_mask(instruction), _blank_mask(output)
        reasons = [
            f"cannot write as {fmt}: instruction is empty"
            if a
            else f"cannot write as {fmt}: output is empty"
            if b
            else None
            for a, b in zip(no_instruction.tolist(), no_output.tolist())
        ]
        valid = pa.array(~(no_instruction | no_output))
        instruction, input_, output, system = (
            column.filter(valid) for column in (instruction, input_, output, system)
        )
        system = pc.if_else(pa.array(_blank_mask(system)), pa.scalar(None, pa.string()), system)
        if not _blank(self.config.system_prompt):
            system = pc.fill_null(system, self.config.system_prompt)
        if fmt == "alpaca":
            history = pa.ListArray.from_arrays(
                pa.array(np.zeros(len(instruction) + 1, dtype=np.int32)), pa.array([], pa.list_(pa.string()))
            )
            columns = [instruction, pc.fill_null(input_, ""), output, system, history]
            return pa.Table.from_arrays(columns, schema=self.record_schema), reasons
        prompt = pc.if_else(
            pa.array(_blank_mask(input_)),
            instruction,
            pc.binary_join_element_wise(instruction, input_, "\n\n"),
        )
        turn_type = self.record_schema.field(0).type.value_type
        names = (
            [schema.ROLE_SYSTEM, schema.ROLE_USER, schema.ROLE_ASSISTANT]
            if fmt == "messages"
            else [
                SHAREGPT_ROLES[role] for role in (schema.ROLE_SYSTEM, schema.ROLE_USER, schema.ROLE_ASSISTANT)
            ]
        )
        conversations = _two_turn_lists(system, prompt, output, names, turn_type)
        return pa.Table.from_arrays([conversations], schema=self.record_schema), reasons

    def format_documents(self, table: pa.Table) -> FormattedBatch:
        """Builds one ``{"text"}`` record per document row; documents without text are rejected."""
        if schema.TEXT in table.column_names:
            texts = table.column(schema.TEXT).combine_chunks()
        else:
            texts = pa.nulls(table.num_rows, pa.string())
        filled = pc.fill_null(texts, "")
        blank = pc.or_(pc.utf8_is_space(filled), pc.equal(pc.utf8_length(filled), 0))
        keep_mask = pc.invert(blank)
        keep = keep_mask.to_pylist()
        reasons = ["cannot write document: text is empty"] * keep.count(False)
        built = pa.table({schema.TEXT: pc.filter(texts, keep_mask)}, schema=RECORD_SCHEMAS[DOCUMENTS])
        return self._finish(table, built, keep, reasons, DOCUMENTS)

    def _finish(self, table: pa.Table, built: pa.Table, keep: list[bool], reasons: list[str], fmt: str):
        mask = pa.array(keep, type=pa.bool_())
        rejected = with_reasons(table.filter(pc.invert(mask)), reasons)
        if self.config.keep_metadata:
            built = with_metadata(built, table.filter(mask))
        validate_records(built, fmt)
        return FormattedBatch(records=built, rejected=rejected, written=mask)


def _multi_turn_mask(table: pa.Table) -> np.ndarray:
    """True for rows whose ``messages`` hold at least one message."""
    if schema.MESSAGES not in table.column_names:
        return np.zeros(table.num_rows, dtype=bool)
    lengths = pc.fill_null(pc.list_value_length(table.column(schema.MESSAGES)), 0)
    return np.asarray(lengths.to_numpy()) > 0


def _string_column(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    return table.column(name).combine_chunks().cast(pa.string())


def _blank_mask(strings: pa.Array) -> np.ndarray:
    """True where a string is null, empty or whitespace only."""
    filled = pc.fill_null(strings, "")
    blank = pc.or_(pc.utf8_is_space(filled), pc.equal(pc.utf8_length(filled), 0))
    return np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)


def _two_turn_lists(
    system: pa.Array, prompt: pa.Array, answer: pa.Array, role_names: list[str], turn_type: pa.StructType
) -> pa.ListArray:
    """Conversations of ``[system?, user, assistant]`` built as flat arrays plus offsets."""
    count = len(prompt)
    has_system = np.asarray(system.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    lengths = 2 + has_system.astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    owner = np.repeat(np.arange(count), lengths)
    # Which of system (0), prompt (1) or answer (2) each turn is; rows without a system start at 1.
    part = np.arange(len(owner)) - offsets[owner] + (~has_system[owner]).astype(np.int64)
    stacked = pa.concat_arrays([system.cast(pa.string()), prompt.cast(pa.string()), answer.cast(pa.string())])
    contents = stacked.take(pa.array(part * count + owner))
    roles = pa.array(role_names, pa.string()).take(pa.array(part))
    turns = pa.StructArray.from_arrays([roles, contents], fields=list(turn_type))
    return pa.ListArray.from_arrays(pa.array(offsets), turns, type=pa.list_(turn_type))


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


def _check_conversations(
    conversations: pa.ListArray, role_field: str, content_field: str, fmt: str, names: dict[str, str]
) -> None:
    """Checks every conversation: known roles, no blank content, an optional system turn first, then
    user / assistant turns alternating and ending with the assistant."""
    if conversations.null_count:
        raise RecordError(f"{fmt} record {_first(conversations.is_null())} has a null conversation")
    items = conversations.flatten()
    roles, contents = items.field(role_field), items.field(content_field)
    if items.null_count or roles.null_count or contents.null_count:
        raise RecordError(f"{fmt} records hold a turn with a null role or content")
    blank = pc.or_(pc.utf8_is_space(contents), pc.equal(pc.utf8_length(contents), 0))
    if pc.any(blank).as_py():
        raise RecordError(f"{fmt} records hold a turn with blank content (turn {_first(blank)} overall)")
    codes = {names[schema.ROLE_SYSTEM]: 0, names[schema.ROLE_USER]: 1, names[schema.ROLE_ASSISTANT]: 2}
    role_codes = np.array([codes.get(role, -1) for role in roles.to_pylist()], dtype=np.int8)
    if (role_codes < 0).any():
        raise RecordError(f"{fmt} records hold an unknown role {roles[int(np.argmax(role_codes < 0))]}")
    lengths = pc.list_value_length(conversations).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    has_system = np.zeros(len(lengths), dtype=bool)
    nonempty = lengths > 0
    has_system[nonempty] = role_codes[starts[nonempty]] == 0
    turns = lengths - has_system
    bad = (turns < 2) | (turns % 2 == 1)
    if bad.any():
        record = int(np.argmax(bad))
        raise RecordError(
            f"{fmt} record {record} does not hold user / assistant pairs ({int(turns[record])} turns)"
        )
    # Position of each turn after the optional system turn: even is the user's, odd the assistant's.
    owner = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(role_codes)) - starts[owner] - has_system[owner]
    expected = np.where(position % 2 == 0, 1, 2)
    expected[position < 0] = 0
    wrong = role_codes != expected
    if wrong.any():
        raise RecordError(
            f"{fmt} record {int(owner[np.argmax(wrong)])} does not alternate user / assistant "
            "after an optional first system turn"
        )


def _first(mask) -> int:
    return int(np.argmax(np.asarray(mask.to_numpy(zero_copy_only=False))))


def validate_records(records: pa.Table, fmt: str) -> None:
    """Checks a table of records against its format before it is written.

    Args:
        records: Records as built by ``SFTFormatter`` (format fields first, then metadata).
        fmt: ``messages``, ``alpaca``, ``sharegpt`` or ``documents``.

    Raises:
        RecordError: A field is missing or mistyped, a content field is null or blank, a role is unknown,
            or a conversation is not user / assistant pairs ending with the assistant.
    """
    expected = RECORD_SCHEMAS[fmt]
    head = records.schema
    for index, field in enumerate(expected):
        if index >= len(head) or head.field(index).name != field.name or head.field(index).type != field.type:
            found = f"{head.field(index).name}: {head.field(index).type}" if index < len(head) else "nothing"
            raise RecordError(f"{fmt} records need field {index} '{field.name}: {field.type}', found {found}")
    for field in list(head)[len(expected) :]:
        if field.name not in METADATA_SCHEMA.names:
            raise RecordError(f"{fmt} records hold an unexpected column '{field.name}'")
    if records.num_rows == 0:
        return
    if fmt == "messages":
        conversations = records.column(schema.MESSAGES).combine_chunks()
        roles = {role: role for role in (schema.ROLE_SYSTEM, schema.ROLE_USER, schema.ROLE_ASSISTANT)}
        _check_conversations(conversations, "role", "content", fmt, roles)
    elif fmt == "sharegpt":
        conversations = records.column(CONVERSATIONS).combine_chunks()
        _check_conversations(conversations, SHAREGPT_FROM, SHAREGPT_VALUE, fmt, SHAREGPT_ROLES)
    elif fmt == "alpaca":
        for name in (schema.INSTRUCTION, schema.OUTPUT):
            _check_text(records.column(name), f"{fmt} field '{name}'")
        if records.column(schema.INPUT).null_count:
            raise RecordError(f"{fmt} field 'input' is null (use an empty string)")
        history = records.column(HISTORY).combine_chunks()
        if history.null_count:
            raise RecordError(f"{fmt} record {_first(history.is_null())} has a null history")
        pairs = history.flatten()
        if pairs.null_count or pc.any(pc.not_equal(pc.list_value_length(pairs), 2)).as_py():
            raise RecordError(f"{fmt} history entries must be [user, assistant] pairs")
        if len(pairs):
            _check_text(pairs.flatten(), f"{fmt} history turn")
    else:
        _check_text(records.column(schema.TEXT), "document text")


def _check_text(column, what: str) -> None:
    if column.null_count:
        raise RecordError(f"{what} is null in record {_first(column.is_null())}")
    blank = pc.or_(pc.utf8_is_space(column), pc.equal(pc.utf8_length(column), 0))
    if pc.any(blank).as_py():
        raise RecordError(f"{what} is blank in record {_first(blank)}")


__all__ = [
    "DOCUMENTS",
    "METADATA_SCHEMA",
    "RECORD_SCHEMAS",
    "FileFormat",
    "FormattedBatch",
    "InvalidConversation",
    "OutputConfig",
    "RecordError",
    "SFTFormat",
    "SFTFormatter",
    "SchemaChangedError",
    "ShardFile",
    "ShardWriter",
    "alpaca_record",
    "conversation_turns",
    "document_mask",
    "file_sha256",
    "messages_record",
    "sharegpt_record",
    "validate_records",
]
