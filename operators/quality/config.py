"""Configuration of the quality stage (``quality:`` in the job config) and the names of its rules."""

from __future__ import annotations

import os

from pydantic import Field, field_validator
from sftforge.operators.base import StageConfig
from sftforge.operators.quality import rules

#: Names used in reasons and in the report, in the order a reason lists them.
DOCUMENT_RULES = (
    "word_count",
    "mean_word_length",
    "symbol_word_ratio",
    "bullet_lines",
    "ellipsis_lines",
    "alpha_words",
    "stop_words",
    "terminal_punctuation",
    "dup_lines",
    "dup_line_chars",
    "dup_paragraphs",
    "dup_paragraph_chars",
    *(f"top_{n}gram_chars" for n in rules.TOP_NGRAM_SIZES),
    *(f"dup_{n}gram_chars" for n in rules.DUP_NGRAM_SIZES),
)
PAIR_RULES = (
    "instruction_empty",
    "response_empty",
    "response_too_short",
    "repeats_instruction",
    "refusal",
    "non_answer",
    "repeated_word",
    "truncated",
    "unseen_input",
    "impossible_action",
    "ungrounded_url",
    "placeholder",
    "length_ratio_low",
    "length_ratio_high",
)
SCORE_RULES = ("classifier", "quality_score")
RULES = DOCUMENT_RULES + PAIR_RULES + SCORE_RULES
#: Document rules that also judge long responses of instruction pairs.
REPETITION_RULES = tuple(rule for rule in DOCUMENT_RULES if rule.startswith("dup_"))

_CJK_LANGUAGES = ("zh", "ja", "ko", "yue", "wuu", "gan", "hak", "nan", "cdo", "hsn", "cmn", "lzh")


class DocumentRules(StageConfig):
    """Thresholds of the document rules; ``None`` turns a rule off.

    Defaults follow Gopher (Rae et al. 2021, table A1) and FineWeb's line-punctuation rule. Lengths of
    CJK text are in characters.
    """

    min_words: int | None = Field(default=50, ge=0)
    max_words: int | None = Field(default=100_000, gt=0)
    min_cjk_chars: int | None = Field(default=80, ge=0)
    max_cjk_chars: int | None = Field(default=200_000, gt=0)
    min_mean_word_length: float | None = Field(default=3.0, ge=0)
    max_mean_word_length: float | None = Field(default=10.0, gt=0)
    max_symbol_word_ratio: float | None = Field(default=0.1, ge=0)
    max_bullet_lines: float | None = Field(default=0.9, ge=0, le=1)
    max_ellipsis_lines: float | None = Field(default=0.3, ge=0, le=1)
    min_alpha_words: float | None = Field(default=0.8, ge=0, le=1)
    min_stop_words: int | None = Field(default=2, ge=0)
    #: Languages whose documents the mean-word-length and stop-word rules judge.
    word_rule_languages: tuple[str, ...] = ("en",)
    min_terminal_punctuation: float | None = Field(default=0.12, ge=0, le=1)
    max_dup_lines: float | None = Field(default=0.3, ge=0, le=1)
    max_dup_line_chars: float | None = Field(default=0.2, ge=0, le=1)
    max_dup_paragraphs: float | None = Field(default=0.3, ge=0, le=1)
    max_dup_paragraph_chars: float | None = Field(default=0.2, ge=0, le=1)
    max_top_ngram_chars: dict[int, float | None] = {2: 0.20, 3: 0.18, 4: 0.16}
    max_dup_ngram_chars: dict[int, float | None] = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    #: CJK text measures n-grams of ``n * cjk_ngram_scale`` characters (a Chinese word is ~2 characters).
    cjk_ngram_scale: int = Field(default=2, ge=1, le=4)

    @field_validator("max_top_ngram_chars")
    @classmethod
    def _top_sizes(cls, value: dict[int, float | None]) -> dict[int, float | None]:
        return _check_sizes(value, rules.TOP_NGRAM_SIZES)

    @field_validator("max_dup_ngram_chars")
    @classmethod
    def _dup_sizes(cls, value: dict[int, float | None]) -> dict[int, float | None]:
        return _check_sizes(value, rules.DUP_NGRAM_SIZES)


def _check_sizes(value: dict[int, float | None], allowed: tuple[int, ...]) -> dict[int, float | None]:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"n-gram sizes {unknown} are not measured; use {list(allowed)}")
    for size, threshold in value.items():
        if threshold is not None and not 0 <= threshold <= 1:
            raise ValueError(f"threshold for {size}-grams must be between 0 and 1, got {threshold}")
    return value


class PairRules(StageConfig):
    """Switches and thresholds of the SFT-pair rules; ``None`` or ``false`` turns a rule off.

    Attributes:
        min_response_chars: Shortest response (non-space characters) to an open-ended prompt; prompts
            whose answer may be a word (classification, choice, factoid questions) are exempt.
        min_response_cjk_chars: The same for CJK responses.
        max_instruction_overlap: Largest share of the response's bigrams found in the instruction.
        min_length_ratio: Smallest response/prompt length ratio (in words, CJK characters counting as
            words) for open-ended prompts of at least ``length_ratio_min_prompt`` words.
        max_length_ratio: Largest response/prompt length ratio.
        allowed_url_hosts: Hosts a response may link to without the prompt giving them.
        repetition: Apply the document repetition rules to responses of at least
            ``repetition_min_words`` words that contain no code and were not asked to repeat (songs,
            chants and tongue twisters repeat by design).
        repetition_cjk_ngram_scale: Characters per word when the repetition rules read a CJK response:
            3, so that parallel sentences ("男同是男性同性恋的简称，……女同是女性同性恋的简称") sharing a
            short phrase are not repetition, while a repeated sentence still is.
        max_repeated_run: Most copies of one word or phrase (up to eight words) back to back; "very very
            very ..." twenty times, or 好好好好……, fails.
    """

    instruction_empty: bool = True
    response_empty: bool = True
    min_response_chars: int | None = Field(default=10, ge=0)
    min_response_cjk_chars: int | None = Field(default=4, ge=0)
    max_instruction_overlap: float | None = Field(default=0.8, ge=0, le=1)
    refusal: bool = True
    non_answer: bool = True
    truncated: bool = True
    unseen_input: bool = True
    impossible_action: bool = True
    ungrounded_urls: bool = True
    allowed_url_hosts: tuple[str, ...] = ("example.com", "example.org", "example.net", "localhost", "127.0.0.1")
    placeholder: bool = True
    min_length_ratio: float | None = Field(default=0.02, ge=0)
    length_ratio_min_prompt: int = Field(default=100, ge=1)
    max_length_ratio: float | None = Field(default=500.0, gt=0)
    repetition: bool = True
    repetition_min_words: int = Field(default=50, ge=1)
    repetition_cjk_ngram_scale: int = Field(default=3, ge=1, le=4)
    max_repeated_run: int | None = Field(default=7, ge=1)


class ClassifierConfig(StageConfig):
    """A fastText model trained with ``sftforge train-quality``.

    Attributes:
        path: The model file.
        threshold: Reject rows whose P(good) is below this (``None``: score only).
        weight: Share of P(good) in ``quality_score`` (the rules have the rest).
        num_cpus: CPUs per scoring actor.
        max_actors: Upper bound on scoring actors.
    """

    path: str
    threshold: float | None = Field(default=0.5, ge=0, le=1)
    weight: float = Field(default=0.5, ge=0, le=1)
    num_cpus: float = Field(default=0.5, gt=0)
    max_actors: int = Field(default=1, ge=1)

    @field_validator("path")
    @classmethod
    def _model_exists(cls, value: str) -> str:
        if "://" not in value and not os.path.isfile(value):
            raise ValueError(f"no quality model at '{value}' (train one with `sftforge train-quality`)")
        return value


class QualityConfig(StageConfig):
    """The quality stage (``quality:`` in the job config).

    Attributes:
        documents: Document rules (``null`` turns them all off).
        pairs: SFT-pair rules (``null`` turns them all off).
        classifier: A trained quality model to score with.
        min_score: Reject rows whose ``quality_score`` is below this.
        cjk_ratio: Share of CJK characters from which a row without a ``lang`` is counted in characters.
        reject: ``false`` scores and annotates every row but rejects none.
        instruction_roots: Add the ``instruction_root`` column (verb/object of each instruction), used by
            diversity selection and the report.
    """

    documents: DocumentRules | None = DocumentRules()
    pairs: PairRules | None = PairRules()
    classifier: ClassifierConfig | None = None
    min_score: float | None = Field(default=None, ge=0, le=1)
    cjk_ratio: float = Field(default=0.3, ge=0, le=1)
    reject: bool = True
    instruction_roots: bool = True
