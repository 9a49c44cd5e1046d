"""Turns final rows into SFT records (pure: no Ray, no knowledge of releases), and the output config.

Instruction rows become records of the configured format (``schemas.py`` defines each one's Arrow schema:
``messages``, ``alpaca``, ``sharegpt``, ``text``). Documents (rows of kind ``document``) are never forced
into a chat format: they become ``{"text"}`` records. With ``keep_metadata``, the row's id, language,
quality score, cluster and lineage columns follow the record's own fields, then one string column per
kept source field (``source_fields``).

Types are the same in every batch, so every shard of an output has the same keys with the same JSON types:
an empty string value (an alpaca row without a system prompt, an original row's ``parent_id``) is ``""``,
never ``null``, because a JSON reader types a column that is null in a whole shard as ``null``. Numbers
and lists have no such empty form (a missing score is ``null``, no history is ``[]``): for those the
release writer opens each output's first shard with rows that show every type (``witness.py``).

A row that cannot form a valid conversation (no instruction, an empty answer, turns that do not
alternate) is not written and not dropped either: the formatter returns it with a reason, and the
release writer puts it in ``rejects/``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator
from sftforge.operators import schema
from sftforge.operators.base import StageConfig, with_reasons
from sftforge.operators.write.conversation import (
    InvalidConversation,
    alpaca_record,
    blank,
    conversation_turns,
    messages_record,
    sharegpt_record,
)
from sftforge.operators.write.metadata import (
    check_kept_columns,
    empty_strings_for_nulls,
    source_field_names,
    with_kept_columns,
    with_metadata,
)
from sftforge.operators.write.schemas import (
    DOCUMENTS,
    METADATA_SCHEMA,
    RECORD_SCHEMAS,
    RESERVED_COLUMN_NAMES,
    SHAREGPT_ROLES,
    FileFormat,
    SFTFormat,
)
from sftforge.operators.write.shards import SchemaChangedError, ShardFile, ShardWriter, file_sha256
from sftforge.operators.write.template import TextTemplate, render_single_turns
from sftforge.operators.write.validate import RecordError, validate_records


class CardConfig(StageConfig):
    """What the release's dataset card (``README.md``) says beyond what the run measures.

    Attributes:
        license: SPDX-style licence id for the card's ``license:`` field (``other`` when unknown).
        description: A paragraph on what the dataset is.
        pretty_name: A display name (default: the release id).
    """

    license: str = "other"
    description: str | None = None
    pretty_name: str | None = None


class OutputConfig(StageConfig):
    """Where and how the release is written.

    Attributes:
        dir: Folder that holds releases (``<dir>/<release>/...``) and the ``LATEST`` pointer: a local
            or mounted path, or an fsspec URL (``s3://``, ``gs://``, ``abfs://``, ``file://``); see
            ``sftforge.jobs.release.objectstore`` for how object stores are committed.
        sft_format: Record format of instruction rows.
        file_formats: File formats each shard is written in (same rows, same order in each).
        shard_rows: Rows per shard file, on average: an output of ``n`` rows is written as
            ``ceil(n / shard_rows)`` files, each row placed by a hash of its ``doc_id``.
        shards: Files per output instead of the number ``shard_rows`` gives.
        system_prompt: System message for rows that bring none of their own.
        keep_metadata: Write id, language, quality, cluster and lineage columns beside the record.
        text_template: How ``sft_format: text`` renders a conversation (placeholders are checked here).
        card: Licence, description and name for the release's dataset card.
        min_rows: A release with fewer rows (records plus documents) is not published (``--force`` does).
        max_shrink: When set, a release with fewer rows than this fraction of the previous release's is
            not published (``--force`` does).
    """

    dir: str
    sft_format: SFTFormat = "messages"
    file_formats: list[FileFormat] = Field(default_factory=lambda: ["parquet", "jsonl"], min_length=1)
    shard_rows: int = Field(default=100_000, gt=0)
    shards: int | None = Field(default=None, gt=0, le=99_999)
    system_prompt: str | None = None
    keep_metadata: bool = True
    text_template: TextTemplate = TextTemplate()
    card: CardConfig = CardConfig()
    min_rows: int = Field(default=1, ge=0)
    max_shrink: float | None = Field(default=None, gt=0, le=1)

    @field_validator("dir")
    @classmethod
    def _dir_is_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("output.dir is empty")
        if value.startswith("file://"):
            return value.removeprefix("file://")
        return value

    @field_validator("file_formats")
    @classmethod
    def _file_formats_are_distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"output.file_formats lists a format twice: {value}")
        return value


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
    """Turns live rows into records: instruction rows in the configured SFT format, documents as text.

    Args:
        config: The output config.
        kept_columns: Names of the source fields kept as metadata columns (the inputs' ``keep_columns``),
            each written as a string column in every record, ``""`` where a row lacks it. ``None`` takes
            the keys found in the batch's ``source_fields``, sorted.
    """

    def __init__(self, config: OutputConfig, kept_columns: list[str] | tuple[str, ...] | None = None):
        self.config = config
        self.record_schema = RECORD_SCHEMAS[config.sft_format]
        self.kept_columns = None if kept_columns is None else check_kept_columns(kept_columns)

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
            if fmt == "text":
                records.append({schema.TEXT: self.config.text_template.render(system, turns)})
            elif fmt == "messages":
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
        if not blank(self.config.system_prompt):
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
        if fmt == "text":
            texts = render_single_turns(self.config.text_template, system, prompt, output)
            return pa.Table.from_arrays([texts], schema=self.record_schema), reasons
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
            rows = table.filter(mask)
            built = with_metadata(built, rows)
            kept = self.kept_columns if self.kept_columns is not None else source_field_names(rows)
            built = with_kept_columns(built, rows, kept)
        built = empty_strings_for_nulls(built)
        kept_names = [name for name in built.column_names if name not in RESERVED_COLUMN_NAMES]
        validate_records(built, fmt, kept_columns=kept_names)
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


__all__ = [
    "DOCUMENTS",
    "METADATA_SCHEMA",
    "RECORD_SCHEMAS",
    "RESERVED_COLUMN_NAMES",
    "CardConfig",
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
    "TextTemplate",
    "alpaca_record",
    "check_kept_columns",
    "conversation_turns",
    "document_mask",
    "file_sha256",
    "messages_record",
    "sharegpt_record",
    "validate_records",
]
