"""A source record's values to checked content fields: text coercion, conversations, size and Unicode.

``record_fields`` raises ``Rejected`` with the reason a row cannot be used (``null_text``, ``empty_text``,
``missing_instruction``, ``invalid_messages: ...``, ``row_too_large: ...``); the row builder in
``sftforge.operators.read.records`` turns that into a rejected row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from sftforge.operators import schema
from sftforge.operators.read.columns import ColumnPlan
from sftforge.operators.read.errors import Rejected

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


def record_fields(plan: ColumnPlan, record: Mapping[str, Any], max_row_bytes: int) -> dict[str, Any]:
    """The content fields of one record, read through ``plan``.

    Raises:
        Rejected: The record cannot be used; carries the fields that could be read, as evidence.
    """
    values = plan.values(record)
    if plan.kind == schema.KIND_DOCUMENT:
        text = as_text(values[schema.TEXT], schema.TEXT)
        if text is None:
            raise Rejected("null_text")
        check_size({schema.TEXT: text}, max_row_bytes)
        if not text.strip():
            raise Rejected("empty_text", fields={schema.TEXT: text})
        return {schema.TEXT: text}
    fields: dict[str, Any] = {}
    if schema.SYSTEM in values:
        fields[schema.SYSTEM] = as_text(values[schema.SYSTEM], schema.SYSTEM)
    if plan.conversation:
        turns = normalise_messages(values[schema.MESSAGES])
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
                fields[canonical] = as_text(values[canonical], canonical)
    check_size(fields, max_row_bytes)
    if _blank(fields.get(schema.INSTRUCTION)):
        raise Rejected("missing_instruction", fields=fields)
    if _blank(fields.get(schema.OUTPUT)):
        raise Rejected("missing_output", fields=fields)
    return fields


def check_size(fields: Mapping[str, Any], max_row_bytes: int) -> None:
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
    if size > max_row_bytes:
        raise Rejected(f"row_too_large: {size} bytes > {max_row_bytes}", fields=fields)


def as_text(value: Any, field: str) -> str | None:
    """A scalar as text: strings as they are, numbers and booleans as JSON; anything else is rejected."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise Rejected(f"invalid_number: {field} is {value} (overflow or not a number)")
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise Rejected(f"invalid_type: {field} is {type(value).__name__}")


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def normalise_messages(value: Any) -> list[dict[str, str]]:
    """OpenAI-style (``role``/``content``) or ShareGPT-style (``from``/``value``) turns, or their JSON text,
    as ``{"role", "content"}`` dicts with the roles of ``ROLE_NAMES``."""
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
