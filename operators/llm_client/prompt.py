"""Prompt templates: named, versioned chat messages with ``{placeholders}`` and an optional JSON schema.

The name and version are part of every cache key: bump ``version`` whenever the wording or the schema
changes, and cached replies of the old wording are no longer used.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sftforge.operators.llm_client.config import StructuredOutput

Message = dict[str, str]

_FORMATTER = string.Formatter()


class PromptError(ValueError):
    """A template is malformed, or a request does not fill all of its placeholders."""


@dataclass(frozen=True)
class PromptTemplate:
    """A versioned chat prompt.

    Placeholders use ``str.format`` syntax (``{instruction}``); literal braces are doubled. Values are
    inserted verbatim, so braces inside row text are safe.

    Attributes:
        name: Stable identifier, e.g. ``judge.hhh.en``.
        version: Bumped on every change to messages or schema.
        messages: ``(role, content)`` pairs; roles are ``system``, ``user`` or ``assistant``.
        schema: JSON schema the reply must satisfy (None: the reply is free text).
        schema_name: Name sent with ``response_format`` (letters, digits, ``_`` and ``-``).
    """

    name: str
    version: str
    messages: tuple[tuple[str, str], ...]
    schema: Mapping[str, Any] | None = None
    schema_name: str = "reply"
    placeholders: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name or not self.version:
            raise PromptError("a prompt template needs a name and a version")
        if not self.messages:
            raise PromptError(f"template '{self.name}' has no messages")
        names: set[str] = set()
        for role, content in self.messages:
            if role not in ("system", "user", "assistant"):
                raise PromptError(f"template '{self.name}': unknown role '{role}'")
            try:
                for _, field_name, _, _ in _FORMATTER.parse(content):
                    if field_name is not None:
                        if not field_name.isidentifier():
                            raise PromptError(
                                f"template '{self.name}': placeholder '{{{field_name}}}' is not a plain name"
                            )
                        names.add(field_name)
            except ValueError as error:
                raise PromptError(f"template '{self.name}': {error}") from error
        object.__setattr__(self, "placeholders", frozenset(names))
        if self.schema is not None:
            # A schema that cannot be serialised cannot be sent or hashed; fail at definition time.
            json.dumps(self.schema, sort_keys=True)

    @property
    def wants_json(self) -> bool:
        return self.schema is not None

    def render(
        self, variables: Mapping[str, Any], structured_output: StructuredOutput = "json_schema"
    ) -> list[Message]:
        """Fills the placeholders and returns OpenAI chat messages.

        With a schema and ``structured_output`` ``json_object`` or ``prompt`` (the endpoint is not told
        the schema), the schema is appended to the last system message (or a new one) so that the
        model still knows the expected shape.

        Raises:
            PromptError: A placeholder has no value.
        """
        missing = self.placeholders - set(variables)
        if missing:
            raise PromptError(f"template '{self.name}' needs values for: {', '.join(sorted(missing))}")
        values = {key: "" if value is None else str(value) for key, value in variables.items()}
        messages = [{"role": role, "content": content.format_map(values)} for role, content in self.messages]
        if self.schema is not None and structured_output in ("json_object", "prompt"):
            instruction = (
                "Reply with one JSON object only, no prose and no code fences, matching this JSON schema:\n"
                + json.dumps(self.schema, ensure_ascii=False, sort_keys=True)
            )
            for message in reversed(messages):
                if message["role"] == "system":
                    message["content"] = f"{message['content']}\n\n{instruction}"
                    break
            else:
                messages.insert(0, {"role": "system", "content": instruction})
        return messages

    def response_format(self, structured_output: StructuredOutput) -> dict[str, Any] | None:
        """The ``response_format`` request field for this template, or None for free text."""
        if self.schema is None or structured_output == "prompt":
            return None
        if structured_output == "json_object":
            return {"type": "json_object"}
        if structured_output == "json_object_schema":
            return {"type": "json_object", "schema": dict(self.schema)}
        return {
            "type": "json_schema",
            "json_schema": {"name": self.schema_name, "schema": dict(self.schema), "strict": True},
        }

    def identity(self) -> dict[str, str]:
        """Name and version, as recorded in provenance columns and cache keys."""
        return {"name": self.name, "version": self.version}
