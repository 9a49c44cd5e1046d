"""Paraphrase: several rewordings of each parent instruction, sharing the parent's input and response.

One request per parent asks for ``count`` numbered rewrites. Each rewrite is kept when it is in the
parent's language, differs from the parent and from the rewrites kept before it, and keeps the meaning:
chrF against the parent inside ``[min_chrf, max_chrf]`` and a length ratio within ``max_length_ratio``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, model_validator
from sftforge.operators.augment import filters
from sftforge.operators.augment.chrf import chrf
from sftforge.operators.augment.filters import Language
from sftforge.operators.augment.prompts import TemplateOverride, check_overrides
from sftforge.operators.augment.replies import numbered_items
from sftforge.operators.base import StageConfig
from sftforge.operators.llm_client import LLMRequest, PromptTemplate

METHOD = "paraphrase"

REWRITE = {
    "en": PromptTemplate(
        name="paraphrase.rewrite.en",
        version="1",
        messages=(
            (
                "user",
                (
                    "Rewrite the instruction below in {count} different ways. Each rewrite must ask for "
                    "exactly the same thing and keep every detail and constraint, in English, with different "
                    "wording or sentence structure. Do not answer the instruction.\n"
                    'Write one rewrite per line, each starting with "Rewrite N:".\n\n'
                    "Instruction: {instruction}"
                ),
            ),
        ),
    ),
    "zh": PromptTemplate(
        name="paraphrase.rewrite.zh",
        version="1",
        messages=(
            (
                "user",
                (
                    "用 {count} 种不同的说法改写下面的指令。每种改写都必须要求完全相同的事情，保留所有细节和约束，"
                    "用中文，但换用不同的措辞或句式。不要回答这条指令。\n"
                    "每行写一条改写，以“改写 N：”开头。\n\n"
                    "指令：{instruction}"
                ),
            ),
        ),
    ),
}

TEMPLATES: tuple[PromptTemplate, ...] = tuple(REWRITE.values())


class ParaphraseConfig(StageConfig):
    """Paraphrases of instruction rows.

    Attributes:
        enabled: Run the method.
        target_rows: Most rows to generate.
        sample_rate: Share of eligible parents used, chosen by a hash of ``doc_id``.
        paraphrases_per_instruction: Rewrites asked for (and most kept) per parent.
        min_chrf: Lowest chrF against the parent (meaning kept).
        max_chrf: Highest chrF against the parent (really reworded).
        max_length_ratio: Longest/shortest length ratio allowed.
        max_source_chars: Parents with a longer instruction are not used.
        temperature: Sampling temperature (None: the LLM config's).
        parents_per_batch: Parent rows per batch.
        templates: Replacements of this method's templates, by template name.
    """

    enabled: bool = True
    target_rows: int = Field(default=1000, ge=1, le=1_000_000_000)
    sample_rate: float = Field(default=1.0, gt=0, le=1)
    paraphrases_per_instruction: int = Field(default=3, ge=1, le=16)
    min_chrf: float = Field(default=25.0, ge=0, le=100)
    max_chrf: float = Field(default=90.0, ge=0, le=100)
    max_length_ratio: float = Field(default=2.0, ge=1)
    max_source_chars: int = Field(default=1000, ge=1)
    temperature: float | None = Field(default=0.7, ge=0, le=2)
    parents_per_batch: int = Field(default=256, ge=1)
    templates: dict[str, TemplateOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _band_and_templates(self) -> ParaphraseConfig:
        if self.min_chrf >= self.max_chrf:
            raise ValueError("min_chrf must be below max_chrf")
        check_overrides(self.templates, TEMPLATES)
        return self


def paraphrase_request(
    request_id: str,
    instruction: str,
    language: Language,
    count: int,
    *,
    temperature: float | None = None,
    templates: Mapping[str, PromptTemplate] = REWRITE,
) -> LLMRequest:
    """The request for ``count`` rewrites of ``instruction``."""
    return LLMRequest(
        id=request_id,
        template=templates[language],
        variables={"count": count, "instruction": instruction.strip()},
        temperature=temperature,
    )


def parse_paraphrases(reply: str) -> list[str]:
    """The numbered rewrites of a reply (``Rewrite 1: ...``, ``改写 1：...``, ``1. ...``)."""
    return [text for _, text in numbered_items(reply, words=("Rewrite", "Paraphrase", "改写", "说法"))]


def select_paraphrases(
    parent: str, candidates: list[str], language: Language, config: ParaphraseConfig
) -> tuple[list[str], list[tuple[str, str, str | None]]]:
    """Keeps the candidates that pass, at most ``paraphrases_per_instruction``.

    Returns:
        ``(kept, dropped)``; ``dropped`` holds ``(candidate, reason, detail)``.
    """
    kept: list[str] = []
    dropped: list[tuple[str, str, str | None]] = []
    seen = {filters.normalized(parent)}
    for candidate in candidates:
        reason, detail = _reason(parent, candidate, language, config, seen)
        if reason is None and len(kept) >= config.paraphrases_per_instruction:
            reason, detail = "over_limit", None
        if reason is None:
            kept.append(candidate)
            seen.add(filters.normalized(candidate))
        else:
            dropped.append((candidate, reason, detail))
    return kept, dropped


def _reason(
    parent: str, candidate: str, language: Language, config: ParaphraseConfig, seen: set[str]
) -> tuple[str | None, str | None]:
    if filters.text_language(candidate) != language:
        return filters.WRONG_LANGUAGE, None
    key = filters.normalized(candidate)
    if key == filters.normalized(parent):
        return filters.UNCHANGED, None
    if key in seen:
        return filters.DUPLICATE, None
    score = chrf(candidate, parent)
    if not config.min_chrf <= score <= config.max_chrf:
        return filters.MEANING_DRIFT, f"chrF={score:.1f} outside [{config.min_chrf}, {config.max_chrf}]"
    la, lb = len("".join(parent.split())), len("".join(candidate.split()))
    ratio = max(la, lb) / max(1, min(la, lb))
    if ratio > config.max_length_ratio:
        return filters.LENGTH_RATIO, f"length ratio {ratio:.2f} > {config.max_length_ratio}"
    return None, None
