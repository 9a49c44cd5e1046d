"""Pure checks shared by the augmentation methods: which language a text is in, and whether a generated
instruction is one a text model can follow (Self-Instruct's heuristic filters, for English and Chinese).

Every check returns a reason string (the dead-letter vocabulary below) or None when the text passes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Literal

from pydantic import Field
from sftforge.operators.base import StageConfig
from sftforge.operators.text import cjk_ratio

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")

# Reasons a generated candidate is dead-lettered (with ``llm_<reason>`` for the engine's own).
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
UNSUPPORTED_TASK = "unsupported_task"
BAD_START = "bad_start"
WRONG_LANGUAGE = "wrong_language"
TOO_SIMILAR = "too_similar"
UNPARSEABLE = "unparseable"
UNCHANGED = "unchanged"
MEANING_DRIFT = "chrf_out_of_band"
LENGTH_RATIO = "length_ratio"
COPIED_SOURCE = "copied_source"
BELOW_THRESHOLD = "judge_below_threshold"
INVALID_QUESTION = "invalid_question"
DUPLICATE = "duplicate"

_KANA_OR_HANGUL = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff]")
_ASCII_WORD = re.compile(r"[A-Za-z]+")
_ENGLISH_FUNCTION_WORDS = frozenset(
    ["a", "an", "the", "of", "to", "in", "into", "on", "onto", "for", "and", "or", "but", "not", "no", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "it", "its", "this", "that", "these", "those", "with", "without", "as", "by", "from", "at", "about", "over", "under", "after", "before", "between", "through", "during", "than", "then", "there", "their", "they", "them", "he", "she", "his", "her", "him", "we", "our", "us", "you", "your", "i", "my", "me", "what", "how", "why", "which", "who", "whom", "when", "where", "do", "does", "did", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "if", "so", "also", "only", "just", "very", "all", "any", "each", "every", "some", "more", "most", "other", "such", "one", "two", "three", "give", "write", "list", "explain", "describe", "make", "find", "tell", "name", "please"]
)
# Frequent short words of other Latin-script languages: a text with more of these than English ones is not
# English, however ASCII it looks.
_OTHER_FUNCTION_WORDS = frozenset(
    ["der", "die", "das", "und", "ist", "ein", "eine", "einen", "nicht", "mit", "auf", "den", "dem", "zu", "von", "sich", "auch", "wie", "wir", "ihr", "sie", "es", "le", "la", "les", "et", "est", "des", "une", "du", "pour", "dans", "que", "qui", "pas", "sur", "avec", "au", "aux", "ce", "cette", "sont", "nous", "vous", "el", "los", "las", "y", "es", "del", "una", "por", "con", "para", "se", "su", "al", "lo", "como", "pero", "sus", "muy", "il", "di", "che", "della", "per", "non", "sono", "gli", "nel", "una", "de", "het", "een", "en", "van", "niet", "op", "te", "dat"]
) - _ENGLISH_FUNCTION_WORDS


def text_language(text: str) -> Language | None:
    """``zh`` or ``en`` for text in Chinese or English; None for anything else (or blank text).

    A cheap script test, good enough to pick prompt templates and to catch a reply in the wrong
    language; the pipeline's language stage judges the generated rows properly afterwards.
    """
    if not text or not text.strip():
        return None
    if _KANA_OR_HANGUL.search(text):
        return None
    if cjk_ratio(text) >= 0.2:
        return "zh"
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return None
    ascii_share = sum(1 for char in letters if char.isascii()) / len(letters)
    if ascii_share < 0.9:
        return None
    words = [word.lower() for word in _ASCII_WORD.findall(text)]
    english = sum(1 for word in words if word in _ENGLISH_FUNCTION_WORDS)
    other = sum(1 for word in words if word in _OTHER_FUNCTION_WORDS)
    # A text must read as English, not just be in Latin script (German, French, Spanish ...).
    if (other and other >= english) or (len(words) >= 6 and not english):
        return None
    return "en"


def text_length(text: str, language: Language) -> int:
    """Words for English, non-space characters for Chinese (the units of the length bounds)."""
    if language == "zh":
        return sum(1 for char in text if not char.isspace())
    return len(text.split())


_UNSUPPORTED_EN = (
    "image", "images", "graph", "graphs", "picture", "pictures", "photo", "photos", "file", "files",
    "map", "maps", "draw", "drawing", "plot", "video", "videos", "audio", "go to",
)  # fmt: skip
_UNSUPPORTED_ZH = (
    "图片", "图像", "图表", "照片", "画出", "画一", "画个", "绘制", "绘画", "作图", "画图", "文件",
    "地图", "视频", "音频", "录音", "截图", "附件", "上传", "前往",
)  # fmt: skip
_BAD_PREFIXES_EN = ("write a program",)
_BAD_PREFIXES_ZH = ("编写一个程序", "写一个程序", "编写程序", "写程序")


class InstructionFilterConfig(StageConfig):
    """Bounds and word lists of the instruction filters (Self-Instruct's, extended to Chinese).

    Attributes:
        min_words: Fewest words of an English instruction (the paper drops 3 words or fewer).
        max_words: Most words of an English instruction.
        min_chars: Fewest non-space characters of a Chinese instruction.
        max_chars: Most non-space characters of a Chinese instruction.
        unsupported_en: Words that mark tasks a text model cannot do (whole-word, case-insensitive).
        unsupported_zh: Chinese substrings with the same role.
        bad_prefixes_en: English openings to drop (the paper drops "Write a program").
        bad_prefixes_zh: Chinese openings to drop.
    """

    min_words: int = Field(default=4, ge=1)
    max_words: int = Field(default=150, ge=1)
    min_chars: int = Field(default=6, ge=1)
    max_chars: int = Field(default=300, ge=1)
    unsupported_en: tuple[str, ...] = _UNSUPPORTED_EN
    unsupported_zh: tuple[str, ...] = _UNSUPPORTED_ZH
    bad_prefixes_en: tuple[str, ...] = _BAD_PREFIXES_EN
    bad_prefixes_zh: tuple[str, ...] = _BAD_PREFIXES_ZH


def length_reason(text: str, language: Language, config: InstructionFilterConfig) -> str | None:
    """``too_short`` / ``too_long`` outside the language's bounds, else None."""
    length = text_length(text, language)
    low, high = (config.min_chars, config.max_chars) if language == "zh" else (config.min_words, config.max_words)
    if length < low:
        return TOO_SHORT
    if length > high:
        return TOO_LONG
    return None


def _keyword_pattern(words: Sequence[str]) -> re.Pattern | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


_PATTERN_CACHE: dict[tuple[str, ...], re.Pattern | None] = {}


def unsupported_reason(text: str, language: Language, config: InstructionFilterConfig) -> str | None:
    """``unsupported_task`` when the task needs images, files, drawing, browsing ..., else None."""
    # Chinese has no spaces between words: plain substrings, plus the English list for mixed text.
    if language == "zh" and any(word in text for word in config.unsupported_zh):
        return UNSUPPORTED_TASK
    words = config.unsupported_en
    if words not in _PATTERN_CACHE:
        _PATTERN_CACHE[words] = _keyword_pattern(words)
    pattern = _PATTERN_CACHE[words]
    if pattern is not None and pattern.search(text):
        return UNSUPPORTED_TASK
    return None


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith(("P", "S"))


def start_reason(text: str, language: Language, config: InstructionFilterConfig) -> str | None:
    """``bad_start`` for an instruction that opens with punctuation, a character outside the language,
    or a banned opening ("Write a program"), else None."""
    stripped = text.lstrip()
    if not stripped:
        return BAD_START
    first = stripped[0]
    if _is_punctuation(first):
        return BAD_START
    if language == "zh":
        if not (cjk_ratio(first) == 1.0 or (first.isascii() and first.isalnum())):
            return BAD_START
        prefixes = config.bad_prefixes_zh
    else:
        if not (first.isascii() and first.isalnum()):
            return BAD_START
        prefixes = config.bad_prefixes_en
    lowered = stripped.casefold()
    if any(lowered.startswith(prefix.casefold()) for prefix in prefixes):
        return BAD_START
    return None


def instruction_reason(text: str, language: Language, config: InstructionFilterConfig) -> str | None:
    """The first Self-Instruct heuristic that rejects ``text`` (language, length, unsupported, start)."""
    if text_language(text) != language:
        return WRONG_LANGUAGE
    return (
        length_reason(text, language, config)
        or unsupported_reason(text, language, config)
        or start_reason(text, language, config)
    )


def normalized(text: str) -> str:
    """Text compared for "unchanged": NFKC, case-folded, punctuation and whitespace removed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(char for char in folded if char.isalnum())


def document_reason(text: str, config) -> str | None:
    """Why a raw document cannot serve as a response or a passage (None when it can): language or length.

    ``config`` has ``min_chars``/``max_chars`` (Chinese, in characters) and ``min_words``/``max_words``
    (other languages), as the instruction back-translation and QA configs do.
    """
    language = text_language(text)
    if language is None:
        return "unsupported_language"
    return length_reason(text, language, config)
