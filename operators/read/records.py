"""Source records to base-schema rows: column mapping, conversations, content ids, rejected rows.

Used by ``sftforge.operators.read.reader`` for every format, so that a JSONL line, a JSON array element and a Parquet row
with the same content become the same row with the same ``doc_id``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema

if TYPE_CHECKING:
    from sftforge.operators.read.planning import ReadUnit

READ_STAGE = "read"

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

#: Speaker names of OpenAI-style ``role`` and ShareGPT-style ``from`` keys, mapped to chat roles.
ROLE_NAMES = {
    "system": schema.ROLE_SYSTEM,
    "user": schema.ROLE_USER,
    "human": schema.ROLE_USER,
    "assistant": schema.ROLE_ASSISTANT,
    "gpt": schema.ROLE_ASSISTANT,
    "chatgpt": schema.ROLE_ASSISTANT,
    "bot": schema.ROLE_ASSISTANT,
    "model": schema.ROLE_ASSISTANT,
}

DEFAULT_MAX_ROW_BYTES = 8 * 1024 * 1024
#: Characters of a rejected row's text, and turns of its conversation, kept as evidence (rejected rows
#: can be arbitrarily large).
REJECT_PREVIEW_CHARS = 4096
REJECT_PREVIEW_TURNS = 64
#: Bounds on one batch of rows.
BATCH_ROWS = 8192
BATCH_BYTES = 32 * 1024 * 1024


class InputError(Exception):
    """An input path or file that cannot be read; ``path`` names it."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")

    def __reduce__(self):
        # Keeps the two-argument constructor working when Ray pickles the error back from a worker.
        return (type(self), (self.path, self.message))


class Rejected(Exception):
    """A row that cannot be used; carries the reason and the text that could be recovered."""

    def __init__(self, reason: str, text: str | None = None, fields: Mapping[str, Any] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.text = text
        self.fields = dict(fields or {})


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


def content_id(kind: str, parts: Sequence[str | None]) -> str:
    """Stable id of a row's content: BLAKE2b-128 over the kind and length-prefixed parts (None as "")."""
    digest = hashlib.blake2b(kind.encode(), digest_size=16)
    for part in parts:
        data = (part or "").encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _as_text(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise Rejected(f"invalid_number: {field} is {value} (overflow or not a number)")
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise Rejected(f"invalid_type: {field} is {type(value).__name__}")


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _normalise_messages(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise Rejected(f"invalid_messages: not JSON ({exc.msg})") from exc
    if value is None:
        raise Rejected("missing_messages")
    if not isinstance(value, list | tuple):
        raise Rejected(f"invalid_messages: expected a list of turns, got {type(value).__name__}")
    turns = []
    for position, turn in enumerate(value):
        if not isinstance(turn, Mapping):
            raise Rejected(f"invalid_messages: turn {position} is {type(turn).__name__}, not an object")
        speaker = turn.get("role") if turn.get("role") is not None else turn.get("from")
        content = turn.get("content") if turn.get("content") is not None else turn.get("value")
        if not isinstance(speaker, str) or not speaker:
            raise Rejected(f"invalid_messages: turn {position} has no role")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise Rejected(f"invalid_messages: turn {position} content is {type(content).__name__}")
        turns.append({"role": ROLE_NAMES.get(speaker.lower(), speaker.lower()), "content": content})
    if not turns:
        raise Rejected("missing_messages")
    return turns


class RowBuilder:
    """Turns source records (dicts keyed by source column) into base-schema rows, buffered into tables."""

    def __init__(self, unit: ReadUnit, plan: ColumnPlan | None):
        self.unit = unit
        self.plan = plan
        #: The file as lineage names it (``source_file``).
        self.source = unit.source or unit.path
        self._reset()

    def _reset(self) -> None:
        # Only per-row values are buffered; kind, file, origin and parent are constant per unit.
        self.doc_ids: list[str] = []
        self.rows: list[int] = []
        self.content: dict[str, list] = {name: [] for name in CANONICAL_COLUMNS}
        self.reasons: list[str | None] = []
        self.kept_fields: list[str | None] = []
        self._current_kept: str | None = None
        self.buffered_bytes = 0

    def __len__(self) -> int:
        return len(self.doc_ids)

    def full(self) -> bool:
        return len(self) >= BATCH_ROWS or self.buffered_bytes >= BATCH_BYTES

    def flush(self) -> pa.Table:
        """The buffered rows as a base-schema table; empties the buffer."""
        count = len(self)
        reasons = pa.array(self.reasons, pa.string())
        arrays = {
            schema.DOC_ID: pa.array(self.doc_ids, pa.string()),
            schema.KIND: pa.array([self.unit.kind] * count, pa.string()),
            schema.SOURCE_FILE: pa.array([self.source] * count, pa.string()),
            schema.SOURCE_ROW: pa.array(self.rows, pa.int64()),
            schema.ORIGIN: pa.array([schema.ORIGIN_SOURCE] * count, pa.string()),
            schema.REJECT_STAGE: pc.if_else(pc.is_valid(reasons), READ_STAGE, pa.scalar(None, pa.string())),
            schema.REJECT_REASON: reasons,
            schema.SOURCE_FIELDS: pa.array(self.kept_fields, pa.string()),
        }
        for name, values in self.content.items():
            arrays[name] = pa.array(values, schema.BASE_SCHEMA.field(name).type)
        columns = [
            arrays[field.name] if field.name in arrays else pa.nulls(count, field.type)
            for field in schema.BASE_SCHEMA
        ]
        self._reset()
        return pa.Table.from_arrays(columns, schema=schema.BASE_SCHEMA)

    def add_record(self, row: int, record: Mapping[str, Any], raw: str | None = None) -> None:
        """Adds one parsed source record; an unusable record becomes a rejected row.

        Args:
            row: The record's row index in its file.
            record: Source column -> value.
            raw: The record's source text (a JSONL line), kept as evidence if the record is rejected.
        """
        self._current_kept = self._kept_json(record)
        try:
            fields = self._fields(record)
        except Rejected as rejected:
            text = rejected.text
            if text is None and not rejected.fields:
                text = raw if raw is not None else _safe_dump(record)
            self.add_rejected(row, rejected.reason, text, rejected.fields)
            return
        except ROW_ERRORS as exc:
            # One row Python cannot convert (nesting too deep, a number too large) is that row's verdict,
            # never the job's.
            text = raw if raw is not None else _safe_dump(record)
            self.add_rejected(row, self.row_error(exc, row), text)
            return
        self._append(row, fields, None)

    def _kept_json(self, record: Mapping[str, Any]) -> str | None:
        """The input's ``keep_columns`` this record has, as compact JSON (None when it has none)."""
        names = self.unit.keep_columns
        if not names:
            return None
        kept = {name: record[name] for name in names if name in record and record[name] is not None}
        if not kept:
            return None
        try:
            text = json.dumps(kept, ensure_ascii=False, separators=(",", ":"), default=str)
            text.encode("utf-8")
        except ROW_ERRORS:
            return None  # a kept field Python cannot write out is dropped, never the row
        return text

    def row_error(self, exc: BaseException, row: int) -> str:
        """The reject reason of a row that failed to convert: the problem, then file:row."""
        return f"unconvertible_row: {describe_row_error(exc)} at {self.source}:{row}"

    def add_rejected(
        self, row: int, reason: str, text: str | None, fields: Mapping[str, Any] | None = None
    ) -> None:
        """Adds a row rejected by the reader, keeping a bounded preview of what it said."""
        fields = {
            name: _preview_turns(value) if name == schema.MESSAGES else _preview(value)
            for name, value in (fields or {}).items()
        }
        if text is not None:
            fields[schema.TEXT] = _preview(text)
        self._append(row, fields, reason)

    def _fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        assert self.plan is not None
        values = self.plan.values(record)
        if self.plan.kind == schema.KIND_DOCUMENT:
            text = _as_text(values[schema.TEXT], schema.TEXT)
            if text is None:
                raise Rejected("null_text")
            self._check_size({schema.TEXT: text})
            if not text.strip():
                raise Rejected("empty_text", fields={schema.TEXT: text})
            return {schema.TEXT: text}
        fields: dict[str, Any] = {}
        if schema.SYSTEM in values:
            fields[schema.SYSTEM] = _as_text(values[schema.SYSTEM], schema.SYSTEM)
        if self.plan.conversation:
            turns = _normalise_messages(values[schema.MESSAGES])
            users = [turn["content"] for turn in turns if turn["role"] == schema.ROLE_USER]
            answers = [turn["content"] for turn in turns if turn["role"] == schema.ROLE_ASSISTANT]
            systems = [turn["content"] for turn in turns if turn["role"] == schema.ROLE_SYSTEM]
            fields[schema.MESSAGES] = turns
            fields[schema.INSTRUCTION] = users[0] if users else None
            fields[schema.OUTPUT] = answers[-1] if answers else None
            if systems:
                fields[schema.SYSTEM] = systems[0]
        else:
            for canonical in (schema.INSTRUCTION, schema.INPUT, schema.OUTPUT):
                if canonical in values:
                    fields[canonical] = _as_text(values[canonical], canonical)
        self._check_size(fields)
        if _blank(fields.get(schema.INSTRUCTION)):
            raise Rejected("missing_instruction", fields=fields)
        if _blank(fields.get(schema.OUTPUT)):
            raise Rejected("missing_output", fields=fields)
        return fields

    def _check_size(self, fields: Mapping[str, Any]) -> None:
        """Rejects rows over ``max_row_bytes`` and strings that UTF-8 cannot encode (lone surrogates)."""
        strings = [value for name, value in fields.items() if isinstance(value, str)]
        if schema.MESSAGES in fields:
            strings = [
                value for name, value in fields.items() if name == schema.SYSTEM and isinstance(value, str)
            ]
            strings += [turn["content"] for turn in fields[schema.MESSAGES]]
            for turn in fields[schema.MESSAGES]:
                try:
                    turn["role"].encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise Rejected("invalid_unicode: lone surrogate in a role", fields=fields) from exc
        size = 0
        for value in strings:
            try:
                size += len(value.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise Rejected("invalid_unicode: lone surrogate", fields=fields) from exc
        if size > self.unit.max_row_bytes:
            raise Rejected(f"row_too_large: {size} bytes > {self.unit.max_row_bytes}", fields=fields)

    def _append(self, row: int, fields: Mapping[str, Any], reason: str | None) -> None:
        kind = self.unit.kind
        if reason is not None:
            parts = [self.source, str(row), reason] + [fields.get(name) for name in CANONICAL_COLUMNS[:5]]
            doc_id = content_id(kind, parts)
        elif kind == schema.KIND_DOCUMENT:
            doc_id = content_id(kind, [fields[schema.TEXT]])
        elif schema.MESSAGES in fields:
            parts = [part for turn in fields[schema.MESSAGES] for part in (turn["role"], turn["content"])]
            doc_id = content_id("conversation", parts)
        else:
            doc_id = content_id(
                kind,
                [
                    fields.get(schema.SYSTEM),
                    fields.get(schema.INSTRUCTION),
                    fields.get(schema.INPUT),
                    fields.get(schema.OUTPUT),
                ],
            )
        self.doc_ids.append(doc_id)
        self.rows.append(row)
        self.reasons.append(reason)
        self.kept_fields.append(self._current_kept)
        self._current_kept = None
        for name, values in self.content.items():
            value = fields.get(name)
            values.append(value)
            if value.__class__ is str:
                self.buffered_bytes += len(value)


#: Errors that converting one row can raise and that say nothing about the rest of the file.
ROW_ERRORS = (RecursionError, ValueError, OverflowError, TypeError, UnicodeError, MemoryError)


def describe_row_error(exc: BaseException) -> str:
    """A one-line name for a row's conversion error."""
    if isinstance(exc, RecursionError):
        return "nesting too deep (RecursionError)"
    message = " ".join(str(exc).split())[:160]
    if isinstance(exc, ValueError) and "integer string conversion" in message:
        return "integer too large (over 4300 digits)"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _safe_dump(record: Any) -> str | None:
    try:
        return json.dumps(record, ensure_ascii=False, default=repr)[:REJECT_PREVIEW_CHARS]
    except ROW_ERRORS:
        return None


def _preview(value: Any) -> Any:
    """A bounded, UTF-8-encodable copy of a rejected row's string."""
    if not isinstance(value, str):
        return value
    value = value[:REJECT_PREVIEW_CHARS]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _preview_turns(turns: list[dict[str, str]]) -> list[dict[str, str]]:
    """A bounded copy of a rejected conversation: the first turns, each cut to a preview."""
    return [
        {"role": _preview(turn["role"]), "content": _preview(turn["content"])}
        for turn in turns[:REJECT_PREVIEW_TURNS]
    ]
