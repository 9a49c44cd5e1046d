"""Generated rows and dead letters as Arrow tables: the base schema plus provenance.

A generated row is a new row: a fresh ``doc_id`` (a content hash that also covers the method and the
parent, so it never equals the id of the row it came from), ``origin`` set to the method, ``parent_id`` to
the source row (None for Self-Instruct, whose rows come from the seed pool, not one row), and the model
and prompt templates that made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
from sftforge.operators import schema
from sftforge.operators.llm_client import PromptTemplate
from sftforge.operators.read.records import content_id

#: Generated rows: every base column, then the provenance columns.
GENERATED_SCHEMA = pa.schema(list(schema.BASE_SCHEMA) + [pa.field(k, t) for k, t in schema.PROVENANCE_TYPES.items()])

#: Candidates that a method dropped, and calls the engine dead-lettered, with the evidence.
AUGMENT_DEAD_LETTER_SCHEMA = pa.schema(
    [
        ("method", pa.string()),
        ("parent_id", pa.string()),
        ("step", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("candidate", pa.string()),
        ("raw", pa.string()),
        ("template", pa.string()),
        ("model", pa.string()),
    ]
)


def template_chain(templates: Sequence[PromptTemplate]) -> tuple[str, str]:
    """``(names, versions)`` of the templates that made a row, joined with ``+`` in call order."""
    return "+".join(t.name for t in templates), "+".join(t.version for t in templates)


@dataclass(frozen=True)
class GeneratedRow:
    """One row made by a method, before it becomes a table row.

    Attributes:
        method: The method (``self_instruct``, ``round_trip`` ...), written to ``origin``.
        parent_id: ``doc_id`` of the source row, None when the row has no single source.
        instruction: Instruction (instruction rows).
        input: Input, "" for none.
        output: Response.
        model: Model that generated it.
        templates: Templates used, in call order.
        judge_score: Self-curation score (instruction back-translation), else None.
        text: Text of a generated document (documents only).
    """

    method: str
    parent_id: str | None
    instruction: str
    input: str
    output: str
    model: str
    templates: tuple[PromptTemplate, ...]
    judge_score: float | None = None

    @property
    def doc_id(self) -> str:
        return content_id(
            schema.KIND_INSTRUCTION,
            ["generated", self.method, self.parent_id, self.instruction, self.input, self.output],
        )


def generated_table(rows: Sequence[GeneratedRow], source_file: str) -> pa.Table:
    """Rows in ``GENERATED_SCHEMA``; ``source_file`` / ``source_row`` point at the part file and row."""
    names, versions = zip(*(template_chain(row.templates) for row in rows)) if rows else ((), ())
    count = len(rows)
    columns = {
        schema.DOC_ID: [row.doc_id for row in rows],
        schema.KIND: [schema.KIND_INSTRUCTION] * count,
        schema.SOURCE_FILE: [source_file] * count,
        schema.SOURCE_ROW: list(range(count)),
        schema.ORIGIN: [row.method for row in rows],
        schema.PARENT_ID: [row.parent_id for row in rows],
        schema.TEXT: [None] * count,
        schema.INSTRUCTION: [row.instruction for row in rows],
        schema.INPUT: [row.input for row in rows],
        schema.OUTPUT: [row.output for row in rows],
        schema.SYSTEM: [None] * count,
        schema.MESSAGES: [None] * count,
        schema.SOURCE_FIELDS: [None] * count,
        schema.REJECT_STAGE: [None] * count,
        schema.REJECT_REASON: [None] * count,
        schema.GEN_MODEL: [row.model for row in rows],
        schema.GEN_TEMPLATE: list(names),
        schema.GEN_TEMPLATE_VERSION: list(versions),
        schema.GEN_JUDGE_SCORE: [row.judge_score for row in rows],
    }
    return pa.table(columns, schema=GENERATED_SCHEMA)


@dataclass(frozen=True)
class DeadLetter:
    """A candidate or call that did not become a row, and why.

    Attributes:
        method: The method.
        parent_id: Source row, when there is one.
        step: The call or check that dropped it (``generate``, ``novelty``, ``translate`` ...).
        reason: A reason from ``operators.augment.filters`` or ``llm_<reason>`` from the engine.
        detail: Human-readable evidence (scores, the similar instruction, the validation error).
        candidate: The generated text that was dropped, when there was one.
        raw: The raw reply, when the reply itself was the problem.
        template: ``name@version`` of the template involved.
        model: The model asked.
    """

    method: str
    parent_id: str | None
    step: str
    reason: str
    detail: str | None = None
    candidate: str | None = None
    raw: str | None = None
    template: str | None = None
    model: str | None = None


def dead_letter_table(letters: Sequence[DeadLetter]) -> pa.Table:
    """Dead letters in ``AUGMENT_DEAD_LETTER_SCHEMA``."""
    return pa.table(
        {field.name: [getattr(letter, field.name) for letter in letters] for field in AUGMENT_DEAD_LETTER_SCHEMA},
        schema=AUGMENT_DEAD_LETTER_SCHEMA,
    )


def with_provenance_columns(table: pa.Table) -> pa.Table:
    """Appends the provenance columns a table lacks, as nulls (rows read from inputs)."""
    for column, type_ in schema.PROVENANCE_TYPES.items():
        if column not in table.column_names:
            table = table.append_column(pa.field(column, type_), pa.nulls(table.num_rows, type_))
    return table
