"""Prompt templates of the augmentation methods, and user overrides of them from the job config.

Every method ships its templates in English and Chinese, named ``<method>.<purpose>.<lang>`` and
versioned; the name and version go into the response cache key and into each generated row's
provenance. A job may replace a template's wording (``templates:`` in a method's config) as long as it
keeps the same placeholders, and must give it its own version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import Field
from sftforge.operators.base import StageConfig
from sftforge.operators.llm_client import PromptTemplate

Role = Literal["system", "user", "assistant"]

#: Names of languages as they appear inside prompts written in English and in Chinese.
LANGUAGE_NAMES: dict[str, dict[str, str]] = {
    "en": {"en": "English", "zh": "Chinese (Simplified)", "de": "German", "fr": "French", "es": "Spanish",
           "ja": "Japanese", "ru": "Russian"},
    "zh": {"en": "英文", "zh": "简体中文", "de": "德文", "fr": "法文", "es": "西班牙文", "ja": "日文",
           "ru": "俄文"},
}  # fmt: skip


class TemplateOverride(StageConfig):
    """A job's own wording for one of a method's templates.

    Attributes:
        version: The override's version (recorded in provenance and the cache key).
        messages: ``[role, content]`` pairs with the same ``{placeholders}`` as the template replaced.
    """

    version: str = Field(min_length=1)
    messages: list[tuple[Role, str]] = Field(min_length=1)


def check_overrides(overrides: Mapping[str, TemplateOverride], defaults: Iterable[PromptTemplate]) -> None:
    """Raises ValueError for an override of an unknown template or with different placeholders."""
    by_name = {template.name: template for template in defaults}
    for name, override in overrides.items():
        if name not in by_name:
            raise ValueError(f"templates: unknown template '{name}' (known: {', '.join(sorted(by_name))})")
        apply_override(by_name[name], override)


def apply_override(default: PromptTemplate, override: TemplateOverride) -> PromptTemplate:
    """The default template with the override's wording and version; same schema and placeholders."""
    template = PromptTemplate(
        name=default.name,
        version=override.version,
        messages=tuple((role, content) for role, content in override.messages),
        schema=default.schema,
        schema_name=default.schema_name,
    )
    if template.placeholders != default.placeholders:
        raise ValueError(
            f"templates.{default.name}: placeholders {sorted(template.placeholders)} differ from "
            f"the template's {sorted(default.placeholders)}"
        )
    if template.version == default.version and template.messages != default.messages:
        raise ValueError(f"templates.{default.name}: a changed wording needs a version other than "
                         f"'{default.version}'")
    return template


def resolve(default: PromptTemplate, overrides: Mapping[str, TemplateOverride]) -> PromptTemplate:
    """The template to use: the job's override of ``default`` when there is one."""
    override = overrides.get(default.name)
    return default if override is None else apply_override(default, override)


def one_line(text: str) -> str:
    """Text with its whitespace collapsed, for listing tasks one per line inside a prompt."""
    return " ".join(text.split())
