"""Which source column feeds each canonical column: aliases, explicit mappings, pairs or conversations.

A Parquet file's plan is decided from its schema; a JSON file's from its first record (and, in a file that
mixes schemas, from each record's own keys; see ``sftforge.operators.read.reader``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sftforge.operators import schema
from sftforge.operators.read.errors import InputError

#: Canonical content columns a source column can be mapped to.
CANONICAL_COLUMNS = (
    schema.TEXT,
    schema.INSTRUCTION,
    schema.INPUT,
    schema.OUTPUT,
    schema.SYSTEM,
    schema.MESSAGES,
)

#: Source column names tried, in order, for a canonical column that ``InputSpec.columns`` does not map.
#: Pairs such as question/answer, query/response and prompt/completion (OpenOrca's system_prompt, Dolly's
#: context) follow from the independent lists.
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    schema.TEXT: ("text", "content"),
    schema.INSTRUCTION: ("instruction", "question", "query", "prompt"),
    schema.INPUT: ("input", "context"),
    schema.OUTPUT: ("output", "answer", "response", "completion"),
    schema.SYSTEM: ("system", "system_prompt"),
    schema.MESSAGES: ("messages", "conversations"),
}


#: Canonical columns a row may lack: a JSON record that omits one is complete all the same.
OPTIONAL_COLUMNS = (schema.INPUT, schema.SYSTEM)


@dataclass(frozen=True)
class ColumnPlan:
    """Which source column feeds each canonical column of one file.

    Attributes:
        kind: ``document`` or ``instruction``.
        sources: Canonical column -> candidate source columns; a record's value is the first candidate
            it has. Required columns have exactly one candidate.
    """

    kind: str
    sources: dict[str, tuple[str, ...]]

    @property
    def conversation(self) -> bool:
        return schema.MESSAGES in self.sources

    @property
    def source_columns(self) -> list[str]:
        return list(dict.fromkeys(name for names in self.sources.values() for name in names))

    def values(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Canonical column -> the record's value (None where the record has none)."""
        values = {}
        for canonical, names in self.sources.items():
            value = None
            for name in names:
                if name in record:
                    value = record[name]
                    break
            values[canonical] = value
        return values


def resolve_columns(
    kind: str,
    explicit: Mapping[str, str],
    present: Sequence[str],
    path: str,
    optional_per_record: bool = False,
) -> ColumnPlan:
    """Decides which source columns a file's rows are read from.

    Explicitly mapped columns must exist. Otherwise documents take ``text`` or ``content``; instruction
    data is a conversation if it has ``messages``/``conversations``, else a pair that needs an instruction
    column and an output column (see ``DEFAULT_ALIASES``).

    Args:
        kind: ``document`` or ``instruction``.
        explicit: The input's ``columns`` mapping.
        present: The file's columns (a JSON file's: the keys of its first record).
        path: The file, for errors.
        optional_per_record: JSON records may each have or lack ``input``/``system``: keep every
            candidate name for those (explicit or aliases) instead of only those present.

    Raises:
        InputError: naming the file, the missing column and the columns present.
    """
    available = set(present)
    listing = ", ".join(present) if present else "none"
    for canonical, source in explicit.items():
        if source not in available and not (optional_per_record and canonical in OPTIONAL_COLUMNS):
            raise InputError(
                path,
                f"configured column '{source}' (for '{canonical}') is missing; columns present: {listing}",
            )

    def pick(canonical: str) -> str | None:
        if canonical in explicit:
            return explicit[canonical]
        return next((name for name in DEFAULT_ALIASES[canonical] if name in available), None)

    def require(canonical: str) -> tuple[str]:
        source = pick(canonical)
        if source is None:
            tried = "', '".join(DEFAULT_ALIASES[canonical])
            raise InputError(
                path,
                f"no '{canonical}' column (tried '{tried}'); columns present: {listing}; "
                f"map one with columns: {{{canonical}: <name>}}",
            )
        return (source,)

    def optional(canonical: str) -> tuple[str, ...]:
        if canonical in explicit:
            return (explicit[canonical],)
        if optional_per_record:
            return DEFAULT_ALIASES[canonical]
        source = pick(canonical)
        return () if source is None else (source,)

    sources: dict[str, tuple[str, ...]] = {}
    if kind == schema.KIND_DOCUMENT:
        sources[schema.TEXT] = require(schema.TEXT)
        return ColumnPlan(kind, sources)
    pair_mapped = any(name in explicit for name in (schema.INSTRUCTION, schema.INPUT, schema.OUTPUT))
    messages = None if pair_mapped else pick(schema.MESSAGES)
    if messages is not None:
        sources[schema.MESSAGES] = (messages,)
    else:
        sources[schema.INSTRUCTION] = require(schema.INSTRUCTION)
        sources[schema.OUTPUT] = require(schema.OUTPUT)
        if input_ := optional(schema.INPUT):
            sources[schema.INPUT] = input_
    if system := optional(schema.SYSTEM):
        sources[schema.SYSTEM] = system
    return ColumnPlan(kind, sources)
