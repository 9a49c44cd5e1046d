"""Questions and answers from passages: ``K`` open or multiple-choice questions per document.

The reply is structured output (a JSON schema sent as ``response_format`` where the endpoint supports
it, described in the prompt otherwise); the engine validates it against the schema, and a reply that
stays invalid after repair is dead-lettered there. Each question that passed the schema is then checked
here: a multiple-choice question has four non-empty, distinct options (A-D), none of the "all/none of
the above" kind that would make more than one option correct, and the letter of the one correct
option; an open question has a non-empty answer, supported by the passage. Questions that fail go to
the dead-letter table with the reason.

A kept question becomes a row: the question (with its options) as the instruction, the passage as the
input, and the answer (``B. <option>`` for multiple choice) as the output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator
from sftforge.operators.augment import filters
from sftforge.operators.augment.filters import Language
from sftforge.operators.augment.novelty import rouge_tokens
from sftforge.operators.augment.prompts import TemplateOverride, check_overrides
from sftforge.operators.base import StageConfig
from sftforge.operators.llm_client import LLMRequest, PromptTemplate

METHOD = "qa_generation"
LETTERS = ("A", "B", "C", "D")

_STRING = {"type": "string"}

OPEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "questions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"question": _STRING, "answer": _STRING},
                "required": ["question", "answer"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["questions"],
    "additionalProperties": False,
}

MULTIPLE_CHOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "questions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "question": _STRING,
                    "options": {
                        "type": "object",
                        "properties": {letter: _STRING for letter in LETTERS},
                        "required": list(LETTERS),
                        "additionalProperties": False,
                    },
                    "answer": {"type": "string", "enum": list(LETTERS)},
                },
                "required": ["question", "options", "answer"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["questions"],
    "additionalProperties": False,
}

_OPEN_SHAPE = '{{"questions": [{{"question": "...", "answer": "..."}}]}}'
_CHOICE_SHAPE = (
    '{{"questions": [{{"question": "...", "options": {{"A": "...", "B": "...", "C": "...", "D": "..."}}, '
    '"answer": "B"}}]}}'
)

OPEN = {
    "en": PromptTemplate(
        name="qa_generation.open.en",
        version="1",
        schema=OPEN_SCHEMA,
        schema_name="open_questions",
        messages=(
            (
                "user",
                "Read the passage and write {count} different questions that it answers, each with its "
                "answer taken from the passage. Questions and answers in English; each question must make "
                "sense on its own.\n\nPassage:\n{passage}\n\nReply with JSON only, in this shape: "
                + _OPEN_SHAPE,
            ),
        ),
    ),
    "zh": PromptTemplate(
        name="qa_generation.open.zh",
        version="1",
        schema=OPEN_SCHEMA,
        schema_name="open_questions",
        messages=(
            (
                "user",
                "阅读下面的段落，提出 {count} 个段落能够回答的不同问题，并给出取自段落的答案。问题和答案都用"
                "中文；每个问题单独看也要能理解。\n\n段落：\n{passage}\n\n只输出 JSON，格式如下：" + _OPEN_SHAPE,
            ),
        ),
    ),
}

MULTIPLE_CHOICE = {
    "en": PromptTemplate(
        name="qa_generation.multiple_choice.en",
        version="1",
        schema=MULTIPLE_CHOICE_SCHEMA,
        schema_name="multiple_choice_questions",
        messages=(
            (
                "user",
                "Read the passage and write {count} different multiple-choice questions about it, in "
                "English. Each question has four options A, B, C and D; exactly one is correct according "
                "to the passage, the other three are plausible but wrong. Do not use options such as "
                '"all of the above" or "none of the above". Give the letter of the correct option as '
                '"answer".\n\nPassage:\n{passage}\n\nReply with JSON only, in this shape: ' + _CHOICE_SHAPE,
            ),
        ),
    ),
    "zh": PromptTemplate(
        name="qa_generation.multiple_choice.zh",
        version="1",
        schema=MULTIPLE_CHOICE_SCHEMA,
        schema_name="multiple_choice_questions",
        messages=(
            (
                "user",
                "阅读下面的段落，用中文出 {count} 道关于它的不同的单项选择题。每道题有 A、B、C、D 四个选项，"
                "按照段落只有一个正确，另外三个看似合理但错误。不要使用“以上都对”“以上都不对”之类的选项。"
                "在 answer 中给出正确选项的字母。\n\n段落：\n{passage}\n\n只输出 JSON，格式如下：" + _CHOICE_SHAPE,
            ),
        ),
    ),
}

TEMPLATES: tuple[PromptTemplate, ...] = (*OPEN.values(), *MULTIPLE_CHOICE.values())

_CATCH_ALL_OPTIONS = (
    "all of the above", "none of the above", "both a and b", "all of these", "none of these",
    "以上都对", "以上都是", "以上都不对", "以上都不是", "以上皆是", "以上皆非", "以上均是", "以上均不是", "都对", "都不对",
)  # fmt: skip

QuestionType = Literal["open", "multiple_choice"]


class QAGenerationConfig(StageConfig):
    """Questions and answers generated from document passages.

    Attributes:
        enabled: Run the method.
        target_rows: Most rows (questions) to generate.
        sample_rate: Share of eligible documents used, chosen by a hash of ``doc_id``.
        questions_per_passage: ``K``, questions asked for (and most kept) per passage.
        question_type: ``open`` or ``multiple_choice`` (4 options, one correct, the letter given).
        min_words: Fewest words of an English passage.
        max_words: Most words of an English passage.
        min_chars: Fewest characters of a Chinese passage.
        max_chars: Most characters of a Chinese passage.
        min_answer_support: Share of an open answer's tokens that must occur in the passage.
        parents_per_batch: Documents per batch.
        templates: Replacements of this method's templates, by template name.
    """

    enabled: bool = True
    target_rows: int = Field(default=1000, ge=1, le=1_000_000_000)
    sample_rate: float = Field(default=1.0, gt=0, le=1)
    questions_per_passage: int = Field(default=3, ge=1, le=20)
    question_type: QuestionType = "open"
    min_words: int = Field(default=40, ge=1)
    max_words: int = Field(default=1000, ge=1)
    min_chars: int = Field(default=80, ge=1)
    max_chars: int = Field(default=2000, ge=1)
    min_answer_support: float = Field(default=0.5, ge=0, le=1)
    parents_per_batch: int = Field(default=256, ge=1)
    templates: dict[str, TemplateOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _templates_are_known(self) -> QAGenerationConfig:
        check_overrides(self.templates, TEMPLATES)
        return self


@dataclass(frozen=True)
class Question:
    """A validated question.

    Attributes:
        question: The question.
        answer: The answer text (open), or the correct option's letter (multiple choice).
        options: The four options A-D (multiple choice), else None.
    """

    question: str
    answer: str
    options: tuple[str, str, str, str] | None = None




def qa_request(
    request_id: str,
    passage: str,
    language: Language,
    config: QAGenerationConfig,
    templates: Mapping[str, PromptTemplate] | None = None,
) -> LLMRequest:
    """The request for ``questions_per_passage`` questions about ``passage``."""
    family = templates or (MULTIPLE_CHOICE if config.question_type == "multiple_choice" else OPEN)
    return LLMRequest(
        id=request_id,
        template=family[language],
        variables={"count": config.questions_per_passage, "passage": passage.strip()},
    )


def answer_support(answer: str, passage: str) -> float:
    """Share of the answer's tokens (words; characters in Chinese) that occur in the passage."""
    tokens = rouge_tokens(answer)
    if not tokens:
        return 0.0
    vocabulary = set(rouge_tokens(passage))
    return sum(1 for token in tokens if token in vocabulary) / len(tokens)


def validate_questions(
    data: Any, passage: str, language: Language, config: QAGenerationConfig
) -> tuple[list[Question], list[tuple[str, str, str]]]:
    """Checks each question of a schema-valid reply.

    Args:
        data: The engine's validated JSON (``{"questions": [...]}``).
        passage: The passage the questions are about.
        language: The passage's language; questions must be in it.
        config: Question type, ``K`` and the answer-support bound.

    Returns:
        ``(kept, dropped)``; ``dropped`` holds ``(question as JSON, reason, detail)``.
    """
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return [], [(json.dumps(data, ensure_ascii=False), filters.INVALID_QUESTION, "no 'questions' list")]
    kept: list[Question] = []
    dropped: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for item in items:
        shown = json.dumps(item, ensure_ascii=False)
        question, detail = _check_item(item, passage, language, config)
        if question is not None:
            key = filters.normalized(question.question)
            if key in seen:
                question, detail = None, "repeats an earlier question"
            elif len(kept) >= config.questions_per_passage:
                dropped.append((shown, "over_limit", f"more than {config.questions_per_passage} questions"))
                continue
            else:
                seen.add(key)
        if question is None:
            reason = filters.DUPLICATE if detail == "repeats an earlier question" else filters.INVALID_QUESTION
            dropped.append((shown, reason, detail))
        else:
            kept.append(question)
    return kept, dropped


def _check_item(
    item: Any, passage: str, language: Language, config: QAGenerationConfig
) -> tuple[Question | None, str | None]:
    if not isinstance(item, dict):
        return None, "not an object"
    question = item.get("question")
    if not isinstance(question, str) or not question.strip():
        return None, "empty question"
    question = question.strip()
    if filters.text_language(question) != language:
        return None, f"question is not in '{language}'"
    if config.question_type == "multiple_choice":
        options = item.get("options")
        if not isinstance(options, dict) or sorted(options) != list(LETTERS):
            return None, "options must be exactly A, B, C and D"
        texts = [options[letter].strip() if isinstance(options[letter], str) else "" for letter in LETTERS]
        if not all(texts):
            return None, "an option is empty"
        if len({filters.normalized(text) for text in texts}) != 4:
            return None, "two options are the same"
        if any(text.casefold().rstrip(".。") in _CATCH_ALL_OPTIONS for text in texts):
            return None, "an all/none-of-the-above option"
        answer = item.get("answer")
        if answer not in LETTERS:
            return None, f"answer {answer!r} is not one of A, B, C, D"
        return Question(question, answer, tuple(texts)), None
    answer = item.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        return None, "empty answer"
    answer = answer.strip()
    if filters.normalized(answer) == filters.normalized(question):
        return None, "the answer repeats the question"
    support = answer_support(answer, passage)
    if support < config.min_answer_support:
        return None, f"answer support {support:.2f} < {config.min_answer_support}"
    return Question(question, answer), None


def row_fields(question: Question, passage: str) -> tuple[str, str, str]:
    """``(instruction, input, output)`` of the row a question becomes."""
    if question.options is None:
        return question.question, passage.strip(), question.answer
    listed = "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, question.options))
    correct = question.options[LETTERS.index(question.answer)]
    return f"{question.question}\n{listed}", passage.strip(), f"{question.answer}. {correct}"


#: Why a document is not used (None when it is); the same rule for every document-based method.
passage_reason = filters.document_reason
