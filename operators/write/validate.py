"""Checks a table of records against its format's schema and rules before it is written."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.write.schemas import (
    CONVERSATIONS,
    HISTORY,
    METADATA_SCHEMA,
    RECORD_SCHEMAS,
    SHAREGPT_FROM,
    SHAREGPT_ROLES,
    SHAREGPT_VALUE,
)


class RecordError(ValueError):
    """A table of records does not match its format's schema or rules; names the row and the rule."""


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


def validate_records(records: pa.Table, fmt: str, kept_columns=()) -> None:
    """Checks a table of records against its format before it is written.

    Args:
        records: Records as built by ``SFTFormatter`` (format fields first, then metadata).
        fmt: ``messages``, ``alpaca``, ``sharegpt``, ``text`` or ``documents``.
        kept_columns: Names of kept source field columns (strings) allowed after the metadata.

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
        if field.name in kept_columns and pa.types.is_string(field.type):
            continue
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
