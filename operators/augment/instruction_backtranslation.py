"""Instruction back-translation (Humpback, Li et al., 2023): instructions for raw documents, then curation.

**Self-augment.** For a raw document, the model writes the instruction that the document would be a
good answer to. The paper fine-tunes a "backward" model on (response, instruction) pairs of the seed
data; here the same pairs are shown to the model as few-shot examples, which needs no training and
works with any endpoint. The pair is (generated instruction, document).

**Self-curate.** Each candidate pair is scored 1-5 by the LLM judge (``sftforge.operators.judge.judge``, the same
prompts and schema as the judge stage) and kept when its score is at or above the threshold (the paper
keeps the pairs rated 5, or 4 and 5, of its 5-point scale).

Before the judge sees them, candidates whose instruction is in the wrong language, too short or too long,
or copied out of the document are dropped (dead-lettered), so no judge call is spent on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import Field, model_validator
from sftforge.operators.augment import filters
from sftforge.operators.augment.filters import InstructionFilterConfig, Language
from sftforge.operators.augment.prompts import TemplateOverride, check_overrides, one_line
from sftforge.operators.augment.replies import strip_wrappers
from sftforge.operators.base import StageConfig
from sftforge.operators.llm_client import LLMRequest, PromptTemplate

METHOD = "instruction_backtranslation"

SELF_AUGMENT = {
    "en": PromptTemplate(
        name="instruction_backtranslation.self_augment.en",
        version="1",
        messages=(
            (
                "user",
                (
                    "Each text below is an AI assistant's response to a user's instruction. For the last "
                    "response, write the instruction it answers: the request for which this text would be a "
                    "complete and fitting reply. Reply with the instruction only, in English.\n\n"
                    "{examples}Response:\n{response}\n\nInstruction:"
                ),
            ),
        ),
    ),
    "zh": PromptTemplate(
        name="instruction_backtranslation.self_augment.zh",
        version="1",
        messages=(
            (
                "user",
                (
                    "下面每段文字都是 AI 助手对某条用户指令的回答。请为最后一段回答写出它所对应的指令，也就是让这段"
                    "文字成为完整、恰当回答的那条请求。只输出这条中文指令。\n\n"
                    "{examples}回答：\n{response}\n\n指令："
                ),
            ),
        ),
    ),
}

TEMPLATES: tuple[PromptTemplate, ...] = tuple(SELF_AUGMENT.values())

_INSTRUCTION_LABELS = ("Instruction", "User instruction", "The instruction", "指令", "用户指令")
_RESPONSE_LABELS = ("\nResponse:", "\n回答：", "\n回答:")


class InstructionBacktranslationConfig(StageConfig):
    """Humpback: instructions generated for documents, curated by the judge.

    Attributes:
        enabled: Run the method.
        target_rows: Most curated rows to generate.
        sample_rate: Share of eligible documents used, chosen by a hash of ``doc_id``.
        seed_tasks: Seed tasks (Self-Instruct JSONL) whose (output, instruction) pairs are the few-shot
            examples; None uses Self-Instruct's seed file when that method is configured, else none.
        few_shot: Seed examples per prompt (same language as the document).
        min_words: Fewest words of an English document to use (the response).
        max_words: Most words of an English document.
        min_chars: Fewest characters of a Chinese document.
        max_chars: Most characters of a Chinese document.
        example_chars: Seed responses are cut to this many characters in the prompt.
        threshold: Judge score at or above which a pair is kept.
        score: Which judge number is compared (``overall``, ``mean`` or ``min`` of the criteria).
        filters: Length bounds of the generated instruction.
        parents_per_batch: Documents per batch.
        templates: Replacements of this method's templates, by template name.
    """

    enabled: bool = True
    target_rows: int = Field(default=1000, ge=1, le=1_000_000_000)
    sample_rate: float = Field(default=1.0, gt=0, le=1)
    seed_tasks: str | None = None
    few_shot: int = Field(default=2, ge=0, le=8)
    min_words: int = Field(default=20, ge=1)
    max_words: int = Field(default=800, ge=1)
    min_chars: int = Field(default=40, ge=1)
    max_chars: int = Field(default=1500, ge=1)
    example_chars: int = Field(default=600, ge=50)
    threshold: float = Field(default=4.0, ge=1, le=5)
    score: Literal["overall", "mean", "min"] = "overall"
    filters: InstructionFilterConfig = InstructionFilterConfig(max_words=120, max_chars=250)
    parents_per_batch: int = Field(default=256, ge=1)
    templates: dict[str, TemplateOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _templates_are_known(self) -> InstructionBacktranslationConfig:
        check_overrides(self.templates, TEMPLATES)
        return self




def render_examples(pairs: Sequence[tuple[str, str]], language: Language, limit_chars: int) -> str:
    """Few-shot ``Response: ... / Instruction: ...`` blocks from (instruction, response) pairs."""
    response_label, instruction_label = ("回答：", "指令：") if language == "zh" else ("Response:", "Instruction:")
    blocks = []
    for instruction, response in pairs:
        shown = response if len(response) <= limit_chars else response[:limit_chars] + " …"
        blocks.append(f"{response_label}\n{shown}\n\n{instruction_label} {one_line(instruction)}\n\n")
    return "".join(blocks)


def self_augment_request(
    request_id: str,
    document: str,
    language: Language,
    examples: str,
    templates: Mapping[str, PromptTemplate] = SELF_AUGMENT,
) -> LLMRequest:
    """The request for the instruction that ``document`` answers."""
    return LLMRequest(
        id=request_id,
        template=templates[language],
        variables={"examples": examples, "response": document.strip()},
        max_tokens=256,
    )


def parse_instruction(reply: str) -> str:
    """The instruction in a self-augment reply; anything after a ``Response:`` label is dropped."""
    text = reply
    for label in _RESPONSE_LABELS:
        cut = text.find(label)
        if cut > 0:
            text = text[:cut]
    return strip_wrappers(text, labels=_INSTRUCTION_LABELS)


def instruction_reason(
    instruction: str, document: str, language: Language, config: InstructionBacktranslationConfig
) -> tuple[str | None, str | None]:
    """Checks a generated instruction before curation: language, length, start, not copied."""
    if not instruction:
        return filters.UNPARSEABLE, "empty instruction"
    if filters.text_language(instruction) != language:
        return filters.WRONG_LANGUAGE, None
    reason = filters.length_reason(instruction, language, config.filters) or filters.start_reason(
        instruction, language, config.filters
    )
    if reason is not None:
        return reason, None
    key = filters.normalized(instruction)
    if len(key) >= 8 and key in filters.normalized(document):
        return filters.COPIED_SOURCE, "the instruction is a passage of the document"
    return None, None


#: Why a document is not used (None when it is); the same rule for every document-based method.
document_reason = filters.document_reason
