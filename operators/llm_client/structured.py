"""Parsing and validating JSON replies, and the message that asks the model to repair one.

Models wrap JSON in code fences or prose more often than they should; the parser takes the first JSON
value it finds, so that a usable answer is not thrown away, and the schema decides whether it is
usable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sftforge.operators.llm_client.request import INVALID_JSON, SCHEMA_MISMATCH

_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class ParsedReply:
    """A reply checked against a schema: ``data`` when valid, else ``reason`` and ``error``."""

    data: Any = None
    reason: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def extract_json(text: str) -> Any:
    """Returns the first JSON object or array in ``text`` (fences and surrounding prose ignored).

    Raises:
        ValueError: ``text`` holds no JSON object or array.
    """
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    for start, char in enumerate(stripped):
        if char in "{[":
            try:
                value, _ = _DECODER.raw_decode(stripped, start)
                return value
            except ValueError:
                continue
    raise ValueError("no JSON object in the reply")


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    schema = json.loads(schema_json)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raises ``ValueError`` naming the problem when ``schema`` is not a valid JSON schema."""
    try:
        _validator(json.dumps(schema, sort_keys=True))
    except SchemaError as error:
        raise ValueError(f"invalid JSON schema: {error.message}") from error


def parse_reply(text: str, schema: Mapping[str, Any]) -> ParsedReply:
    """Parses ``text`` as JSON and validates it against ``schema``."""
    try:
        data = extract_json(text)
    except ValueError as error:
        return ParsedReply(reason=INVALID_JSON, error=str(error))
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(data), key=lambda error: list(error.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(root)"
        return ParsedReply(reason=SCHEMA_MISMATCH, error=f"{where}: {first.message}"[:500])
    return ParsedReply(data=data)


def repair_message(error: str) -> str:
    """The user turn that shows the model why its reply was rejected."""
    return (
        f"Your reply could not be used: {error}. Reply again with only the JSON object, "
        "exactly as the schema requires, and nothing else."
    )
