"""Round-trip back-translation: paraphrase an instruction by translating it to a pivot language and back.

For each parent instruction row: translate the instruction into the pivot language, then the
translation back into the source language (and the same for the response when ``include_output``).
A round trip is kept only when it changed the text (not a copy up to case, spacing and punctuation)
and kept its meaning: chrF against the original inside ``[min_chrf, max_chrf]`` and a length ratio
within ``max_length_ratio``. The pivot text itself must be in the pivot language (a model that answers
the instruction instead of translating it, or copies it, fails there).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, field_validator, model_validator
from sftforge.operators.augment import filters
from sftforge.operators.augment.chrf import chrf
from sftforge.operators.augment.filters import Language
from sftforge.operators.augment.prompts import LANGUAGE_NAMES, TemplateOverride, check_overrides
from sftforge.operators.augment.replies import strip_wrappers
from sftforge.operators.base import StageConfig
from sftforge.operators.llm_client import LLMRequest, PromptTemplate

METHOD = "round_trip"

TRANSLATE = {
    "en": PromptTemplate(
        name="round_trip.translate.en",
        version="1",
        messages=(
            (
                "user",
                (
                    "Translate the text below into {target}. Reply with the translation only: no notes, no "
                    "quotes, and do not answer or carry out what the text asks.\n\n{text}"
                ),
            ),
        ),
    ),
    "zh": PromptTemplate(
        name="round_trip.translate.zh",
        version="1",
        messages=(
            (
                "user",
                (
                    "把下面的文字翻译成{target}。只输出译文，不加说明或引号，也不要回答或执行文字中的要求。\n\n{text}"
                ),
            ),
        ),
    ),
}

TEMPLATES: tuple[PromptTemplate, ...] = tuple(TRANSLATE.values())

_TRANSLATION_LABELS = ("Translation", "Translated text", "Here is the translation", "译文", "翻译", "翻译结果")


class RoundTripConfig(StageConfig):
    """Round-trip back-translation of instruction rows.

    Attributes:
        enabled: Run the method.
        target_rows: Most rows to generate.
        sample_rate: Share of eligible parents used, chosen by a hash of ``doc_id`` (stable across runs).
        pivot: Pivot language per source language.
        include_output: Round-trip the response too (both must pass).
        min_chrf: Lowest chrF (0-100) against the original: below it the meaning drifted.
        max_chrf: Highest chrF: above it the text barely changed.
        max_length_ratio: Longest/shortest length ratio allowed between the original and the result.
        max_source_chars: Parents with a longer instruction (or response) are not used.
        parents_per_batch: Parent rows per batch (the unit of checkpointing). Each step of a batch waits
            for its slowest call, so batches of several times ``llm.max_in_flight`` keep the endpoint busy.
        templates: Replacements of this method's templates, by template name.
    """

    enabled: bool = True
    target_rows: int = Field(default=1000, ge=1, le=1_000_000_000)
    sample_rate: float = Field(default=1.0, gt=0, le=1)
    pivot: dict[Language, str] = Field(default_factory=lambda: {"en": "zh", "zh": "en"})
    include_output: bool = False
    min_chrf: float = Field(default=30.0, ge=0, le=100)
    max_chrf: float = Field(default=95.0, ge=0, le=100)
    max_length_ratio: float = Field(default=2.0, ge=1)
    max_source_chars: int = Field(default=2000, ge=1)
    parents_per_batch: int = Field(default=256, ge=1)
    templates: dict[str, TemplateOverride] = Field(default_factory=dict)

    @field_validator("pivot")
    @classmethod
    def _pivots_are_known(cls, value: dict[str, str]) -> dict[str, str]:
        for source, pivot in value.items():
            if pivot not in LANGUAGE_NAMES["en"]:
                raise ValueError(f"pivot language '{pivot}' is not one of {sorted(LANGUAGE_NAMES['en'])}")
            if pivot == source:
                raise ValueError(f"the pivot of '{source}' must be another language")
        return value

    @model_validator(mode="after")
    def _band_and_templates(self) -> RoundTripConfig:
        if self.min_chrf >= self.max_chrf:
            raise ValueError("min_chrf must be below max_chrf")
        check_overrides(self.templates, TEMPLATES)
        return self


def translation_request(
    request_id: str, text: str, target: str, templates: Mapping[str, PromptTemplate] = TRANSLATE
) -> LLMRequest:
    """A request to translate ``text`` into language ``target``; the prompt is written in Chinese for
    Chinese text and in English otherwise."""
    prompt_language = "zh" if filters.text_language(text) == "zh" else "en"
    return LLMRequest(
        id=request_id,
        template=templates[prompt_language],
        variables={"target": LANGUAGE_NAMES[prompt_language][target], "text": text.strip()},
        # A translation is about as long as its source; a reply that runs far past that is not one, and
        # stopping it early saves the endpoint's time (it is dead-lettered as truncated).
        max_tokens=translation_max_tokens(text),
    )


def translation_max_tokens(text: str) -> int:
    """Token budget of a translation of ``text``: 32 plus one token per source character."""
    return 32 + len(text.strip())


def parse_translation(reply: str) -> str:
    """The translation inside a reply (labels, quotes and code fences removed)."""
    return strip_wrappers(reply, labels=_TRANSLATION_LABELS)


def pivot_reason(source: str, pivot_text: str, pivot: str) -> tuple[str | None, str | None]:
    """Checks the first leg: a non-empty translation, in the pivot language, not a copy."""
    if not pivot_text:
        return filters.UNPARSEABLE, "empty translation"
    if filters.normalized(pivot_text) == filters.normalized(source):
        return filters.COPIED_SOURCE, "the pivot text is the source text"
    if pivot in filters.LANGUAGES and filters.text_language(pivot_text) != pivot:
        return filters.WRONG_LANGUAGE, f"pivot text is not in '{pivot}'"
    return None, None


def round_trip_reason(
    original: str, result: str, language: Language, config: RoundTripConfig
) -> tuple[str | None, str | None]:
    """Checks a round trip: same language, changed, meaning kept (chrF band), length ratio.

    Returns:
        ``(reason, detail)``: both None when the paraphrase is kept.
    """
    if not result:
        return filters.UNPARSEABLE, "empty back-translation"
    if filters.text_language(result) != language:
        return filters.WRONG_LANGUAGE, f"back-translation is not in '{language}'"
    if filters.normalized(result) == filters.normalized(original):
        return filters.UNCHANGED, None
    score = chrf(result, original)
    if not config.min_chrf <= score <= config.max_chrf:
        return filters.MEANING_DRIFT, f"chrF={score:.1f} outside [{config.min_chrf}, {config.max_chrf}]"
    ratio = _length_ratio(original, result)
    if ratio > config.max_length_ratio:
        return filters.LENGTH_RATIO, f"length ratio {ratio:.2f} > {config.max_length_ratio}"
    return None, None


def _length_ratio(a: str, b: str) -> float:
    la, lb = len("".join(a.split())), len("".join(b.split()))
    if min(la, lb) == 0:
        return float("inf")
    return max(la, lb) / min(la, lb)
