"""Pure quality signals, computed for a whole batch at once.

Every function takes sequences of strings (a list or a pyarrow string array; ``None`` reads as empty)
and returns numpy arrays with one value per row, so the rules can be tested with plain strings and
run on a batch without a Python loop per row: regular expressions run in Arrow (RE2), counting and
duplicate detection in numpy. The few checks that need Python (URL grounding, instruction overlap)
only visit the rows that a vectorised prefilter lets through.

Two families:

- Document signals (Gopher, C4 and FineWeb): word counts, mean word length, symbol and alphabetic
  ratios, stop words, bullet / ellipsis / punctuation line fractions, duplicate lines and paragraphs,
  top and duplicated n-grams. Text in scripts written without spaces (Chinese, Japanese, Korean) is
  counted in characters: each CJK character is one token.
- SFT-pair signals: response length, repetition of the instruction, refusals, non-answers,
  truncation, requests for input a text model cannot see or actions it cannot take, URLs the prompt
  never gave, placeholders, length ratios.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# The ranges of sftforge.operators.text.is_cjk, in the two regex dialects used here (a test keeps them equal).
CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2FA1F),
    (0xF900, 0xFAFF),
    (0x3040, 0x30FF),
    (0x31F0, 0x31FF),
    (0xAC00, 0xD7AF),
    (0x1100, 0x11FF),
)
CJK_RE2 = "".join(f"\\x{{{low:X}}}-\\x{{{high:X}}}" for low, high in CJK_RANGES)
CJK_PY = "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES)
# CJK and full-width punctuation, curly quotes, ellipsis and dashes: split off as tokens of their own so
# that "你好，世界" tokenises like "你 好 ， 世 界".
_WIDE_PUNCT_RE2 = "\\x{3000}-\\x{303F}\\x{FF00}-\\x{FF65}\\x{2018}-\\x{201F}\\x{2026}\\x{2014}\\x{00B7}"

STOP_WORDS_EN: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")
_STOP_WORDS = pa.array(STOP_WORDS_EN)
_TRIM = ".,;:!?\"'()[]{}“”‘’«»"

TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)


def as_strings(values: Sequence[str | None] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A string array without nulls."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), type=pa.string())
    if values.type != pa.string():
        values = values.cast(pa.string())
    return pc.fill_null(values, "")


def _numpy(array) -> np.ndarray:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.to_numpy(zero_copy_only=False)


def _match(values: pa.Array, pattern: str) -> np.ndarray:
    return _numpy(pc.match_substring_regex(values, pattern, ignore_case=True)).astype(bool)


def _count(values: pa.Array, pattern: str) -> np.ndarray:
    return _numpy(pc.count_substring_regex(values, pattern)).astype(np.int64)


def _count_plain(values: pa.Array, pattern: str) -> np.ndarray:
    return _numpy(pc.count_substring(values, pattern)).astype(np.int64)


def _extract(values: pa.Array, pattern: str) -> list[str | None]:
    """The first match of ``pattern`` per row (None where it does not match)."""
    found = pc.extract_regex(values, f"(?i)(?P<m>{pattern})")
    valid = _numpy(found.is_valid())
    texts = found.field("m").to_pylist()
    return [text if ok else None for text, ok in zip(texts, valid)]


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    result = np.full(len(numerator), np.nan)
    nonzero = denominator > 0
    result[nonzero] = numerator[nonzero] / denominator[nonzero]
    return result


# ---------------------------------------------------------------------------------------------------
# Script
# ---------------------------------------------------------------------------------------------------


def _length_without(values: pa.Array, pattern: str) -> np.ndarray:
    # Deleting runs and measuring what is left is several times faster in RE2 than counting matches.
    return _numpy(pc.utf8_length(pc.replace_substring_regex(values, pattern, ""))).astype(np.int64)


def non_space_chars(texts) -> np.ndarray:
    """Characters that are not whitespace, per row."""
    return _length_without(as_strings(texts), r"\s+")


def cjk_fractions(texts) -> np.ndarray:
    """Fraction of non-space characters that are CJK (``operators.text.cjk_ratio``, vectorised)."""
    values = as_strings(texts)
    return np.nan_to_num(_divide(_length_without(values, f"[^{CJK_RE2}]+"), non_space_chars(values)))


# ---------------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """The words of a batch, flattened: token ``i`` belongs to row ``row_of[i]`` (rows in order).

    A token is a whitespace-separated word, or a single CJK character; tokens made only of
    punctuation are dropped (Gopher's "non-symbol words"), so Chinese commas do not count as words.

    Attributes:
        num_rows: Rows in the batch.
        row_of: Row of each token.
        ids: Lower-cased token identity (equal ids, equal tokens) for n-gram matching.
        lengths: Characters per token.
        alphabetic: Whether each token has at least one letter.
        words: Tokens per row.
        chars: Characters of tokens per row.
    """

    num_rows: int
    row_of: np.ndarray
    ids: np.ndarray
    lengths: np.ndarray
    alphabetic: np.ndarray
    words: np.ndarray
    chars: np.ndarray
    lowered: pa.Array


def _space_out_cjk(values: pa.Array) -> pa.Array:
    """Puts spaces around CJK characters and wide punctuation, only in the rows that have any."""
    has_cjk = _length_without(values, f"[^{CJK_RE2}{_WIDE_PUNCT_RE2}]+") > 0
    if not has_cjk.any():
        return values
    rows = np.nonzero(has_cjk)[0]
    spaced = pc.replace_substring_regex(values.take(pa.array(rows)), f"([{CJK_RE2}{_WIDE_PUNCT_RE2}])", r" \1 ")
    index = np.arange(len(values))
    index[rows] = len(values) + np.arange(len(rows))
    return pa.concat_arrays([values, spaced]).take(pa.array(index))


def tokenize(texts) -> Tokens:
    """Splits every row into tokens (see ``Tokens``)."""
    values = as_strings(texts)
    num_rows = len(values)
    lists = pc.utf8_split_whitespace(_space_out_cjk(values))
    flat = lists.flatten()
    per_row = _numpy(pc.list_value_length(lists)).astype(np.int64)
    row_of = np.repeat(np.arange(num_rows, dtype=np.int64), per_row)
    keep = _numpy(pc.utf8_length(flat)) > 0
    keep &= ~_match(flat, r"^\p{P}+$")
    flat = flat.filter(pa.array(keep))
    row_of = row_of[keep]
    lowered = pc.utf8_lower(flat)
    ids = _numpy(pc.dictionary_encode(lowered).indices).astype(np.int64)
    lengths = _numpy(pc.utf8_length(flat)).astype(np.int64)
    alphabetic = _match(flat, r"\pL")
    words = np.bincount(row_of, minlength=num_rows).astype(np.int64)
    chars = np.bincount(row_of, weights=lengths, minlength=num_rows)
    return Tokens(num_rows, row_of, ids, lengths, alphabetic, words, chars, lowered)


def count_units(texts) -> np.ndarray:
    """Length in words, counting each CJK character as a word (comparable across scripts).

    Equal to ``tokenize(texts).words``, without building the tokens.
    """
    values = as_strings(texts)
    cjk = _length_without(values, f"[^{CJK_RE2}]+")
    others = pc.replace_substring_regex(values, f"[{CJK_RE2}{_WIDE_PUNCT_RE2}]+", " ")
    return cjk + _count(others, r"\S*[^\s\pP]\S*")


# ---------------------------------------------------------------------------------------------------
# Document signals
# ---------------------------------------------------------------------------------------------------


def word_signals(texts, tokens: Tokens | None = None) -> dict[str, np.ndarray]:
    """Gopher's word-level signals per row.

    Returns:
        ``words`` (tokens), ``mean_word_length`` (characters per token), ``alpha_words`` (fraction of
        tokens with a letter), ``stop_words`` (how many distinct English stop words of Gopher's list
        occur), ``symbol_word_ratio`` (``#`` and ellipses per token).
    """
    values = as_strings(texts)
    tokens = tokens or tokenize(values)
    n = tokens.num_rows
    alpha = np.bincount(tokens.row_of, weights=tokens.alphabetic, minlength=n)
    stripped = pc.utf8_trim(tokens.lowered, characters=_TRIM)
    which = _numpy(pc.fill_null(pc.index_in(stripped, value_set=_STOP_WORDS), -1)).astype(np.int64)
    hit = which >= 0
    distinct = np.unique(tokens.row_of[hit] * len(STOP_WORDS_EN) + which[hit]) // len(STOP_WORDS_EN)
    stop_words = np.bincount(distinct, minlength=n).astype(np.int64)
    symbols = _count_plain(values, "#") + _count_plain(values, "...") + _count_plain(values, "…")
    return {
        "words": tokens.words,
        "mean_word_length": _divide(tokens.chars, tokens.words),
        "alpha_words": _divide(alpha, tokens.words),
        "stop_words": stop_words,
        "symbol_word_ratio": symbols / np.maximum(tokens.words, 1),
    }


_BULLET = r"^(?:[•●○◦▪▫■□◆◇★☆‣∙·➢➤►▶]|[-*–—](?:\s|$))"
_ELLIPSIS_END = r"(?:\.\.\.|…)$"
_TERMINAL_END = r"[.!?。！？…\"'”’」』]$"


@dataclass(frozen=True)
class _Groups:
    """Equal keys grouped by one (unstable, fast) sort.

    Attributes:
        first: Per group, the position of its first occurrence.
        counts: Per group, how many positions hold its key.
        group_of: Per position, its group.
        repeated: Positions whose key occurred at an earlier position.
    """

    first: np.ndarray
    counts: np.ndarray
    group_of: np.ndarray
    repeated: np.ndarray


def _group(keys: np.ndarray) -> _Groups:
    order = np.argsort(keys)
    ordered = keys[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    start_index = np.nonzero(starts)[0]
    first = np.minimum.reduceat(order, start_index)
    group = np.cumsum(starts) - 1
    counts = np.diff(np.r_[start_index, len(keys)])
    group_of = np.empty(len(keys), np.int64)
    group_of[order] = group
    return _Groups(first=first, counts=counts, group_of=group_of, repeated=order[order != first[group]])


def _duplicates(items: pa.Array, row_of: np.ndarray, num_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, how many items repeat an earlier item of the same row, and their characters."""
    if len(items) == 0:
        return np.zeros(num_rows, np.int64), np.zeros(num_rows)
    ids = _numpy(pc.dictionary_encode(items).indices).astype(np.int64)
    keys = row_of * (int(ids.max()) + 1) + ids
    repeated = np.zeros(len(keys), bool)
    repeated[_group(keys).repeated] = True
    lengths = _numpy(pc.utf8_length(items)).astype(np.int64)
    count = np.bincount(row_of[repeated], minlength=num_rows).astype(np.int64)
    chars = np.bincount(row_of[repeated], weights=lengths[repeated], minlength=num_rows)
    return count, chars


def _segments(values: pa.Array, lists: pa.ListArray) -> tuple[pa.Array, np.ndarray]:
    flat = pc.utf8_trim_whitespace(lists.flatten())
    per_row = _numpy(pc.list_value_length(lists)).astype(np.int64)
    row_of = np.repeat(np.arange(len(values), dtype=np.int64), per_row)
    nonempty = _numpy(pc.utf8_length(flat)) > 0
    return flat.filter(pa.array(nonempty)), row_of[nonempty]


def line_signals(texts) -> dict[str, np.ndarray]:
    """Line and paragraph signals per row (non-empty lines only; a paragraph ends at a blank line).

    Returns:
        ``lines``, ``bullet_lines`` (fraction starting with a bullet), ``ellipsis_lines`` (fraction
        ending with an ellipsis), ``terminal_punctuation`` (fraction ending with terminal punctuation,
        FineWeb's line-punctuation ratio), ``dup_lines`` and ``dup_line_chars`` (fraction of lines, and
        of line characters, that repeat an earlier line), ``dup_paragraphs``, ``dup_paragraph_chars``.
    """
    values = as_strings(texts)
    n = len(values)
    lines, row_of = _segments(values, pc.split_pattern(values, "\n"))
    total = np.bincount(row_of, minlength=n).astype(np.int64)
    line_chars = np.bincount(row_of, weights=_numpy(pc.utf8_length(lines)), minlength=n)
    bullets = np.bincount(row_of, weights=_match(lines, _BULLET), minlength=n)
    ellipses = np.bincount(row_of, weights=_match(lines, _ELLIPSIS_END), minlength=n)
    terminal = np.bincount(row_of, weights=_match(lines, _TERMINAL_END), minlength=n)
    dup_lines, dup_line_chars = _duplicates(lines, row_of, n)
    paragraphs, para_row = _segments(values, pc.split_pattern_regex(values, r"\n\s*\n"))
    para_total = np.bincount(para_row, minlength=n)
    para_chars = np.bincount(para_row, weights=_numpy(pc.utf8_length(paragraphs)), minlength=n)
    dup_paras, dup_para_chars = _duplicates(paragraphs, para_row, n)
    return {
        "lines": total,
        "bullet_lines": _divide(bullets, total),
        "ellipsis_lines": _divide(ellipses, total),
        "terminal_punctuation": _divide(terminal, total),
        "dup_lines": _divide(dup_lines, total),
        "dup_line_chars": _divide(dup_line_chars, line_chars),
        "dup_paragraphs": _divide(dup_paras, para_total),
        "dup_paragraph_chars": _divide(dup_para_chars, para_chars),
    }


_MIX = np.uint64(0x9E3779B97F4A7C15)
_ROW_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


def ngram_signals(
    tokens: Tokens,
    rows: np.ndarray | None = None,
    top_sizes: Iterable[int] = TOP_NGRAM_SIZES,
    dup_sizes: Iterable[int] = DUP_NGRAM_SIZES,
    cjk_rows: np.ndarray | None = None,
    cjk_scale: int = 1,
) -> dict[str, dict[int, np.ndarray]]:
    """Gopher's repetition signals over word n-grams (character n-grams for CJK rows).

    ``top[n]`` is the share of a row's characters covered by its most frequent n-gram (counted with
    every occurrence; 0 when no n-gram occurs twice). ``dup[n]`` is the share of characters inside
    n-grams that repeat an earlier n-gram of the same row (overlapping repeats counted once).

    The whole batch is processed at once: each n-gram is hashed from token ids with a rolling 64-bit
    polynomial mixed with its row, and one sort per n finds repeats in every row together. An n-gram
    can only repeat where its (n-1)-gram prefix repeats, so each n only sorts the positions that were
    repeats at n-1: on ordinary text the work shrinks quickly after bigrams.

    Args:
        tokens: The batch's tokens.
        rows: Boolean mask of the rows to score; others get NaN (default: all rows).
        top_sizes, dup_sizes: The n of each signal.
        cjk_rows: Rows counted in characters; their n is multiplied by ``cjk_scale``, since a Chinese
            word is about two characters and Gopher's thresholds are calibrated on words.
        cjk_scale: The multiplier for ``cjk_rows``.
    """
    top_sizes, dup_sizes = tuple(top_sizes), tuple(dup_sizes)
    n_rows = tokens.num_rows
    result: dict[str, dict[int, np.ndarray]] = {
        "top": {n: np.full(n_rows, np.nan) for n in top_sizes},
        "dup": {n: np.full(n_rows, np.nan) for n in dup_sizes},
    }
    selected = np.ones(n_rows, bool) if rows is None else np.asarray(rows, bool)
    scaled = np.zeros(n_rows, bool) if cjk_rows is None or cjk_scale == 1 else np.asarray(cjk_rows, bool)
    for table in result.values():
        for values in table.values():
            values[selected] = 0.0
    if not (top_sizes or dup_sizes):
        return result
    for subset, scale in ((selected & ~scaled, 1), (selected & scaled, cjk_scale)):
        if subset.any():
            _ngram_pass(tokens, subset, {n * scale: n for n in top_sizes}, {n * scale: n for n in dup_sizes}, result)
    return result


def _ngram_pass(tokens: Tokens, subset: np.ndarray, top: dict[int, int], dup: dict[int, int],
                result: dict[str, dict[int, np.ndarray]]) -> None:
    """Fills ``result`` for the rows in ``subset``; ``top``/``dup`` map the n to measure to the n reported."""
    n_rows = tokens.num_rows
    take = subset[tokens.row_of]
    row_of, ids, lengths = tokens.row_of[take], tokens.ids[take], tokens.lengths[take]
    count = len(ids)
    if count == 0:
        return
    total_chars = np.bincount(row_of, weights=lengths, minlength=n_rows)
    cumulative = np.concatenate([[0], np.cumsum(lengths)])
    mixed = (ids.astype(np.uint64) + np.uint64(1)) * _MIX
    first_needed = min(list(top) + list(dup))
    # Start positions still able to repeat, and the hash of their n-gram so far.
    starts = np.arange(count)
    rolling = mixed.copy()
    with np.errstate(over="ignore"):
        for n in range(1, max(list(top) + list(dup)) + 1):
            if n > 1:
                ends = starts + n - 1
                inside = ends < count
                inside[inside] = row_of[ends[inside]] == row_of[starts[inside]]
                starts, rolling = starts[inside], rolling[inside]
                rolling = rolling * _MIX + mixed[starts + n - 1]
            if n < first_needed or len(starts) == 0:
                continue
            rows_of_start = row_of[starts]
            groups = _group(rolling ^ (rows_of_start.astype(np.uint64) * _ROW_MIX))
            if n in top:
                first, counts = groups.first, groups.counts
                unique_rows = rows_of_start[first]
                chars = (cumulative[starts[first] + n] - cumulative[starts[first]]).astype(float)
                share = np.minimum(counts * chars / np.maximum(total_chars[unique_rows], 1), 1.0)
                candidates = np.nonzero(counts >= 2)[0]
                if len(candidates):
                    order = candidates[
                        np.lexsort((share[candidates], counts[candidates], unique_rows[candidates]))
                    ]
                    ordered_rows = unique_rows[order]
                    last = np.r_[ordered_rows[1:] != ordered_rows[:-1], True]
                    result["top"][top[n]][ordered_rows[last]] = share[order[last]]
            if n in dup:
                # Characters in the union of the windows [r, r + n) of repeated n-grams: with the starts
                # sorted, each window adds the tokens up to the next window's start (windows never cross
                # rows, and a later window starts no earlier than this one).
                repeated = np.sort(starts[groups.repeated])
                ends = np.minimum(repeated + n, np.r_[repeated[1:], count])
                chars = cumulative[ends] - cumulative[repeated]
                covered = np.bincount(row_of[repeated], weights=chars, minlength=n_rows)
                result["dup"][dup[n]][subset] = (covered / np.maximum(total_chars, 1))[subset]
            # Only n-grams that occur at least twice can extend into repeated (n+1)-grams.
            again = groups.counts[groups.group_of] >= 2
            starts, rolling = starts[again], rolling[again]


# ---------------------------------------------------------------------------------------------------
# SFT-pair signals
# ---------------------------------------------------------------------------------------------------


def response_chars(texts) -> np.ndarray:
    """Non-space characters in each response."""
    return non_space_chars(texts)


def blank_responses(texts) -> np.ndarray:
    """Responses with no letter, digit or symbol: empty, whitespace, or punctuation only."""
    return ~_match(as_strings(texts), r"[\pL\pN\pS]")


# A prompt whose answer may legitimately be a word or a number: classification, choice, extraction,
# yes/no, arithmetic, translation of a phrase, naming. Questions count too, except why/how ones.
_CLOSED_CUES = (
    r"\b(?:classif\w*|categori[sz]\w*|label\w*|choose|select|pick|which|whether|yes or no|yes/no|"
    r"true or false|true/false|tell (?:me )?(?:if|whether)|identify|extract|find|return|output|answer|"
    r"fill in|predict|detect|count|how (?:many|much|old|long|far|tall|big)|calculate|compute|solve|rate|"
    r"score|convert|spell|guess|evaluate|determine|correct|check|translate|name|title|one word|"
    r"single word|a number|abbreviat\w*|acronym|capital of|sentiment|synonym|antonym|rhymes? with|"
    r"regular expression|regex|sort|alphabetical\w*|arrange|reorder)\b"
    r"|是否|是不是|对不对|对吗|哪|选择|选出|分类|类别|标签|多少|几[个位种天年岁次]|计算|求|提取|找出|"
    r"输出|对错|正确|填空|翻译|标题|一个词|缩写|简称|首都|是谁|等于|情感|同义词|反义词|正则|排序"
)
_QUESTION = r"[?？]\s*$|吗\s*$"
_EXPLANATORY = (
    r"^[\s\pP]*(?:why|how|explain|describe|discuss)\b|\b(?:explain|describe|elaborate|discuss|essay|"
    r"story|article)\b|为什么|如何|怎么|怎样|解释|说明|描述|分析|论述|介绍"
)
_HOW_MUCH = r"^[\s\pP]*how (?:many|much|old|long|far|tall|big)\b"


def closed_tasks(instructions) -> np.ndarray:
    """Whether a short answer is normal for each prompt (classification, choice, factoid questions)."""
    values = as_strings(instructions)
    cues = _match(values, _CLOSED_CUES)
    question = _match(values, _QUESTION)
    explanatory = _match(values, _EXPLANATORY) & ~_match(values, _HOW_MUCH)
    return cues | (question & ~explanatory)


_ASKS_TO_REPEAT = r"\b(?:repeat|copy|echo|say back|recite)\b|重复|复述|照抄|跟我说|跟我念"
_PY_OVERLAP_TOKEN = re.compile(f"[{CJK_PY}]|[^\\W{CJK_PY}]+")


def _overlap_tokens(text: str) -> list[str]:
    return _PY_OVERLAP_TOKEN.findall(text.lower())


def instruction_overlap(instructions, responses, units: tuple[np.ndarray, np.ndarray] | None = None):
    """How much a response and its instruction are the same text, in [0, 1].

    The smaller of two shares of token bigrams: the response's found in the instruction, and the
    instruction's found in the response. Restating the question before answering it ("12乘以15等于
    180") keeps the second share low; echoing the instruction makes both high. Bigrams keep word
    order, so sorting or rearranging the instruction's words scores low. Only responses of comparable
    length (at least 3 tokens, between half and twice the instruction plus 10) are measured, and not
    when the instruction asks for repetition ("repeat after me", "重复"); others get NaN.

    Args:
        instructions: The instruction of each row (without its input: extraction answers copy inputs).
        responses: The response of each row.
        units: Precomputed ``count_units`` of both, to save a tokenisation.
    """
    instructions, responses = as_strings(instructions), as_strings(responses)
    instruction_units, response_units = units or (count_units(instructions), count_units(responses))
    result = np.full(len(responses), np.nan)
    candidates = np.nonzero(
        (response_units >= 3)
        & (response_units >= 0.5 * instruction_units)
        & (response_units <= 2 * instruction_units + 10)
        & ~_match(instructions, _ASKS_TO_REPEAT)
    )[0]
    if len(candidates) == 0:
        return result
    chosen = pa.array(candidates)
    for row, instruction, response in zip(
        candidates, instructions.take(chosen).to_pylist(), responses.take(chosen).to_pylist()
    ):
        source, answer = _overlap_tokens(instruction), _overlap_tokens(response)
        source_grams = set(pairwise(source))
        answer_grams = set(pairwise(answer))
        if answer_grams and source_grams:
            shared = len(answer_grams & source_grams)
            result[row] = min(shared / len(answer_grams), shared / len(source_grams))
    return result


_APOS = "['’]"
_ASSIST_VERBS_EN = (
    r"(?:help|assist|provide|fulfill|fulfil|comply|answer|complete|generate|create|write|give|share|browse|"
    r"access|perform|engage|support|offer|discuss|respond|process|view|see|open|draw|display|play|"
    r"predict|do that|do this|make|tell|recommend|express|endorse|condone|promote)"
)
_REFUSAL_EN = (
    r"\bas an? (?:ai|a\.i\.|artificial intelligence)(?: (?:language )?(?:model|assistant|chatbot|program|"
    r"system))?\s*[,，]"
    r"|\bas an? (?:ai|artificial intelligence) (?:language )?(?:model|assistant|chatbot)\b"
    r"|\bas an? (?:large )?language model\b"
    rf"|\bi(?: am|{_APOS}m) (?:just |only |merely )?an? (?:ai|artificial intelligence)(?: language model|"
    r" model| assistant| chatbot)?(?:[,.!;]| and| so| developed| created| trained| designed)"
    rf"|\bi (?:do not|don{_APOS}t) have (?:personal (?:opinions|feelings|experiences|beliefs|preferences|"
    r"emotions)|(?:the ability|access) to (?:browse|access|view|see|real-time|the internet|current))"
    r"|\bmy (?:training data|knowledge cut-?off)\b"
    rf"|\bi (?:cannot|can{_APOS}t|am unable to|am not able to) (?:browse|access) the (?:internet|web)\b"
    rf"|\b(?:i{_APOS}m|i am) (?:sorry|afraid),? but (?:i|as an ai[^.]{{0,30}})(?: really)? (?:cannot|can ?not|"
    rf"can{_APOS}t|am unable to|am not able to|won{_APOS}t|will not|must decline to) {_ASSIST_VERBS_EN}\b"
    rf"|\bi (?:cannot|can{_APOS}t|won{_APOS}t|will not|am unable to) (?:fulfill|fulfil|comply with|assist "
    r"with|help with) (?:this|that|your|such)"
    rf"|^[\s\"'“]*(?:(?:i{_APOS}m sorry|i am sorry|sorry|i apologi[sz]e|unfortunately|my apologies|"
    rf"i{_APOS}m afraid|i am afraid)[,.!]?\s*(?:but\s*)?)?(?:as an? [^,.]{{1,40}},\s*)?i(?: really)? "
    rf"(?:cannot|can ?not|can{_APOS}t|am unable to|am not able to|{_APOS}m unable to|{_APOS}m not able to|"
    rf"won{_APOS}t|will not|must decline to|do not have the ability to|don{_APOS}t have the ability to|"
    rf"am not (?:allowed|permitted|programmed) to) {_ASSIST_VERBS_EN}\b"
)
_ASSIST_VERBS_ZH = (
    "(?:为你|为您|帮你|帮您|给你|给您|回答|提供|完成|满足|执行|处理|协助|帮助|访问|查看|浏览|生成|创作|写|画|"
    "绘制|打开|播放|预测|给出|透露|分享|讨论|判断|确定|获取|做到|这样做|参与此|支持)"
)
_REFUSAL_ZH = (
    "作为(?:一个|一名|一款)?(?:AI|ai|Ai|人工智能)(?:语言模型|模型|助手|程序|机器人)?[，,]"
    "|作为(?:一个|一名|一款)?(?:AI|ai|Ai|人工智能)(?:语言模型|助手)"
    "|作为(?:一个|一名)?(?:大型)?语言模型"
    "|我(?:只)?是(?:一个|一款|一名)?(?:AI|ai|Ai|人工智能)(?:语言模型|助手|模型|程序)"
    "|(?:很|非常|十分)?(?:抱歉|对不起)[，,！!。]?\\s*(?:但是?|不过)?[，,]?\\s*我(?:目前|暂时|并|恐怕)?"
    f"(?:无法|不能|没有办法|没办法|不可以){_ASSIST_VERBS_ZH}"
    "|无法(?:回答|满足)(?:你|您)的?(?:这个|该|此|这类)?(?:问题|请求|要求)"
    "|我不能(?:回答|提供)(?:这个|该|此|这类|这方面)"
    "|^[\\s“\"]*我(?:目前|暂时|并|恐怕)?(?:无法|不能|没有办法|没办法|不可以)" + _ASSIST_VERBS_ZH
)
REFUSAL_PATTERN = f"{_REFUSAL_EN}|{_REFUSAL_ZH}"


def refusals(responses) -> tuple[np.ndarray, list[str | None]]:
    """Refusals and AI-identity boilerplate (English and Chinese), with the phrase that matched.

    Inability phrases ("I can't", "我无法") count only with a verb of assisting, so a declining email
    written on request ("I'm sorry, but I can't attend") is not a refusal.
    """
    values = as_strings(responses)
    flags = _match(values, REFUSAL_PATTERN)
    return flags, _evidence(values, REFUSAL_PATTERN, flags)


_NON_ANSWER = (
    rf"^[\s\pP]*(?:n/a|i (?:don{_APOS}t|do not) know|idk|no idea|not sure|i(?:{_APOS}m| am) not sure|"
    "no answer|no comment|(?:我)?(?:也)?不知道|(?:我)?不清楚|不确定|无可奉告|暂无(?:答案)?|没有答案|无法回答"
    r")[\s\pP]*$"
)
_DONT_KNOW_PREFIX = (
    rf"^[\s\pP]*(?:(?:sorry,? )?i (?:don{_APOS}t|do not|really don{_APOS}t) know|(?:抱歉，?)?我(?:也)?不知道)"
)


def non_answers(responses, max_prefix_chars: int = 60) -> tuple[np.ndarray, list[str | None]]:
    """Responses that are "N/A", "I don't know", 不知道 (whole), or short ones starting with them."""
    values = as_strings(responses)
    whole = _match(values, _NON_ANSWER)
    short = _numpy(pc.utf8_length(values)) < max_prefix_chars
    prefixed = short & _match(values, _DONT_KNOW_PREFIX)
    flags = whole | prefixed
    evidence = _evidence(values, _NON_ANSWER, whole)
    for row, text in enumerate(_evidence(values, _DONT_KNOW_PREFIX, prefixed & ~whole)):
        if text is not None:
            evidence[row] = text
    return flags, evidence


_CONTINUATION_END = r"[,，、:：；(（\[【{“‘]$"
_CONNECTOR_END = (
    r"(?:\b(?:and|or|but|the|an|of|because|such as|including|e\.g\.|i\.e\.|at|to|with|from|into|by|in|which|"
    r"whose|than)|和|与|或|以及|但是|因为|所以|而且|"
    r"并且|如果|比如|例如|包括|首先|其次|然后)$"
)
_PY_CONNECTOR_END = re.compile(_CONNECTOR_END, re.IGNORECASE)
_LIST_ITEM = r"^\s*(?:[-*•]|\d+[.)、])\s"
_EMPTY_LIST_ITEM = r"^\s*(?:[-*•]|\d+[.)、])\s*$"
_BRACKETS = (("(", ")"), ("（", "）"), ("[", "]"), ("{", "}"), ("“", "”"), ("《", "》"))


def truncations(responses, cjk: np.ndarray | None = None, units: np.ndarray | None = None,
                min_prose_chars: int = 60, min_prose_cjk_chars: int = 20) -> tuple[np.ndarray, list[str | None]]:
    """Responses cut off before the end, with what gave them away.

    Signs, in order: an odd number of code fences; a last character that promises more (comma,
    colon, opening bracket or quote); a last word that cannot end a sentence ("and", "the", "because",
    和, 因为); an empty list item; more opening than closing brackets; a long last line of prose (60
    characters, 20 for CJK) ending in a letter without punctuation, after sentences that did end (or,
    in CJK text, after a clause mark).
    Short lines may end without punctuation (titles, poems, labels), so they are not held to the last
    rule. Only responses of at least 3 words (``units``, computed when not given) are judged, except
    for the code fence.
    """
    values = as_strings(responses)
    n = len(values)
    cjk = np.zeros(n, bool) if cjk is None else np.asarray(cjk, bool)
    trimmed = pc.utf8_rtrim_whitespace(values)
    substantial = (count_units(trimmed) if units is None else np.asarray(units)) >= 3
    last_line = pc.struct_field(pc.extract_regex(trimmed, r"(?P<last>[^\n]*)$"), [0])
    last_line = pc.fill_null(last_line, "")
    checks: list[tuple[np.ndarray, object]] = [
        (_count_plain(values, "```") % 2 == 1, "unclosed code fence"),
        (substantial & _match(trimmed, _CONTINUATION_END), "ends with {}"),
        (substantial & _match(trimmed, _CONNECTOR_END), "ends with {}"),
        (substantial & _match(last_line, _EMPTY_LIST_ITEM), "empty list item"),
    ]
    unbalanced = np.zeros(n, bool)
    opener = [None] * n
    for open_, close in _BRACKETS:
        more = _count_plain(values, open_) > _count_plain(values, close)
        for row in np.nonzero(more & ~unbalanced)[0]:
            opener[row] = open_
        unbalanced |= more
    checks.append((substantial & unbalanced, "unclosed {}"))
    long_line = _numpy(pc.utf8_length(last_line)) >= np.where(cjk, min_prose_cjk_chars, min_prose_chars)
    prose = long_line & _match(last_line, r"\pL$") & ~_match(last_line, _LIST_ITEM)
    prose &= ~_match(last_line, r"^\s*(?:#|\||>)")
    # Titles and lists of phrases end without punctuation; prose that has finished sentences before
    # its last line should finish that one too. Chinese prose always ends with a full stop, so a clause
    # mark (， 、) is enough evidence there.
    finished_before = _match(pc.utf8_slice_codeunits(trimmed, 0, -1), r"[.!?。！？]")
    prose &= finished_before | (cjk & _match(last_line, "[，、]"))
    checks.append((substantial & prose, "ends mid-sentence"))
    flags = np.zeros(n, bool)
    evidence: list[str | None] = [None] * n
    tails = None
    for mask, label in checks:
        fresh = np.nonzero(mask & ~flags)[0]
        if len(fresh) == 0:
            continue
        if "{}" in label:
            if tails is None:
                tails = trimmed.to_pylist()
            for row in fresh:
                if label.startswith("unclosed"):
                    evidence[row] = label.format(f'"{opener[row]}"')
                else:
                    match = _PY_CONNECTOR_END.search(tails[row])
                    evidence[row] = label.format(f'"{match.group(0) if match else tails[row][-1:]}"')
        else:
            for row in fresh:
                evidence[row] = label
        flags[fresh] = True
    return flags, evidence


# Input a text model cannot see. Visual media need no context; charts, tables and documents only
# count when the prompt cannot be carrying them (no input and a short prompt, or an input that is
# just a link or file name).
_DEICTIC_EN = r"(?:this|that|these|those|the|following|given|attached|above|below|provided|uploaded|shown|enclosed|my|your)"
_STRONG_DEICTIC_EN = r"(?:this|these|the following|following|given|attached|above|below|provided|uploaded|shown|enclosed|linked)"
_VISUAL_EN = (
    rf"\b(?:{_DEICTIC_EN}\s+(?:[\w-]+\s+){{0,2}}?(?:image|picture|photo|photograph|pic|screenshot|video|"
    r"clip|audio|recording|gif|selfie|scan)s?)\b"
)
_VISUAL_MODIFIER_EN = (
    rf"\b{_DEICTIC_EN}\s+(?:[\w-]+\s+){{0,2}}?(?:image|picture|photo|video|audio|clip)s?\s+(?:game|games|"
    r"processing|recognition|classification|editing|editor|compression|format|formats|resolution|"
    r"generation|generator|model|models|conference|call|calls|streaming|search|sharing|platform|"
    r"library|file format|dataset)\b"
)
_CONTEXT_NOUNS_EN = (
    r"(?:graph|chart|diagram|figure|map|plot|drawing|sketch|infographic|slide|table|spreadsheet|file|"
    r"attachment|document|pdf|link|url|website|webpage|web page|article|email|blog post|paper|report|book|"
    r"presentation|code|text|passage|paragraph|poem|essay|story|sentence|data|dataset|list|recipe|letter|"
    r"transcript|conversation|dialogue|review)s?"
)
_CONTEXT_EN = (
    rf"\b(?:{_STRONG_DEICTIC_EN}\s+(?:[\w-]+\s+){{0,2}}?{_CONTEXT_NOUNS_EN}|the\s+(?:[\w-]+\s+){{0,2}}?"
    rf"{_CONTEXT_NOUNS_EN}\s+(?:below|above|provided|attached|shown|given|enclosed))\b"
)
_VISUAL_ZH = (
    "(?:(?:这|那|该|此|以下|下面|上面|下列|所给|给定|附件|附上|上传|所附)(?:一)?(?:张|幅|个|段|份|些|部)?"
    "(?:的)?(?:图片|图像|照片|相片|截图|视频|音频|录音|动图|画作|画)"
    "|(?:图片|图像|照片|截图|视频|录音)(?:中|里|上)|如图|上图|下图|见图|(?:^|[^试企意地])图中)"
)
_CONTEXT_ZH = (
    "(?:(?:这|这个|这篇|这份|这段|该|此|以下|下面|上面|下列|所给|给定|附件中?|上传|所附|附上)"
    "(?:一)?(?:张|幅|个|份|篇|段|首|封)?(?:的)?(?:图表|表格|地图|流程图|示意图|统计图|柱状图|折线图|饼图|思维导图|"
    "文件|文档|附件|链接|网址|网页|网站|PDF|pdf|邮件|文章|论文|报告|代码|文本|段落|这段话|句子|材料|数据|诗|故事|"
    "对话|列表|清单)|(?:这|那|以下|下面|上面)(?:一)?段话)"
)
# The instruction carries its own material: text after a colon or line break, or a quoted passage.
_INLINE_CONTENT = r"[:：\n]\s*\S.{10,}|[\"“'‘「].{8,}[\"”'’」]"
_POINTER_INPUT = (
    r"^\s*(?:https?://\S+|www\.\S+|\S+\.(?:png|jpe?g|gif|bmp|webp|svg|pdf|docx?|xlsx?|pptx?|csv|mp3|"
    r"mp4|wav|mov|avi)|<(?:image|img|video|audio|file|图片)>|\[(?:image|img|video|audio|file|图片|图像|视频|"
    r"文件)\])\s*$"
)


def unseen_inputs(instructions, inputs, prompt_units: np.ndarray | None = None,
                  max_context_free_units: int = 40) -> tuple[np.ndarray, list[str | None]]:
    """Prompts that refer to something the model cannot see (an image, an attached file, a chart).

    Pictures, photos, videos and audio referred to with a determiner ("the attached image", "这张图片")
    are never visible to a text model. Charts, tables, documents, articles and passages ("the following
    chart", "下面这段话") are visible when the prompt carries them, so they count only when there is no
    input and the prompt is short (``max_context_free_units``), or the input is just a link, a file name
    or an ``<image>`` marker. "The image processing library" and "this video game" are not references.
    """
    instructions, inputs = as_strings(instructions), as_strings(inputs)
    if prompt_units is None:
        prompt_units = count_units(pc.binary_join_element_wise(instructions, inputs, "\n"))
    no_input = _numpy(pc.utf8_length(pc.utf8_trim_whitespace(inputs))) == 0
    pointer = _match(inputs, _POINTER_INPUT)
    inline = _match(instructions, _INLINE_CONTENT)
    context_free = (no_input & ~inline & (prompt_units < max_context_free_units)) | pointer
    # Only the request itself can ask to look at something: the instruction up to its first colon or
    # line break. A passage after it (or in the input) that mentions "the video" is content.
    requests = pc.fill_null(pc.struct_field(pc.extract_regex(instructions, r"^(?P<head>[^:：\n]*)"), [0]), "")
    visual = _match(requests, _VISUAL_EN) & ~_match(requests, _VISUAL_MODIFIER_EN)
    visual |= _match(requests, _VISUAL_ZH)
    context = context_free & (_match(requests, _CONTEXT_EN) | _match(requests, _CONTEXT_ZH))
    flags = visual | context
    evidence = _evidence(requests, f"{_VISUAL_EN}|{_VISUAL_ZH}", visual)
    for row, text in enumerate(_evidence(requests, f"{_CONTEXT_EN}|{_CONTEXT_ZH}", context & ~visual)):
        if text is not None:
            evidence[row] = text
    return flags, evidence


_POLITE_EN = r"(?:please\s+|kindly\s+|can you\s+|could you\s+|would you\s+|will you\s+|i want you to\s+|i need you to\s+)?"
_ACTION_START_EN = (
    rf"^[\s\pP]*{_POLITE_EN}(?:(?:draw|sketch|paint|doodle|plot)\b|take an? (?:photo|picture|"
    r"photograph|selfie)|record (?:an? |the |my |your )?(?:video|audio|song|podcast|voice)|film\b|go to\b|visit\b|"
    r"browse\b|click\b|download\b|upload\b|open (?:the|this|a|my|your|an)\s|call (?:me|my|him|her|them|the|this|"
    r"\+?\d)|phone\b|text (?:me|my|him|her|them)\b|send (?:an? |the |this |my )?(?:email|e-mail|message|text|"
    r"sms|letter|fax|invitation|invite)s? to|book (?:an? |the |me )?(?:flight|table|hotel|ticket|room|"
    r"appointment|reservation)|order (?:an? |the |me |some )?(?:pizza|food|taxi|uber|ride|delivery|groceries)|"
    r"buy\b|purchase\b|print\b|play (?:[\w-]+ ){0,2}(?:songs?|music|videos?|audio|tracks?|albums?|"
    r"sounds?|movies?|playlists?|podcasts?)|watch\b|listen to\b|search (?:the web|the internet|online|google)|look up\b|set (?:an? |the )?"
    r"(?:alarm|reminder|timer)|turn (?:on|off)\b|remind me)"
)
_ACTION_ANYWHERE_EN = (
    r"\b(?:(?:go to|visit|open|browse|navigate to|click(?: on)?)\s+(?:the |this |that |my |our |your )?"
    r"(?:website|site|web ?page|link|url)\b|(?:go to|visit|open|browse|navigate to)\s+(?:https?://|www\.)\S+)"
)
_ACTION_EXEMPT_EN = (
    r"^[\s\pP]*" + _POLITE_EN + r"(?:draw (?:a |an |the |your |some |any )?(?:conclusions?|inferences?|"
    r"comparisons?|parallels?|distinctions?|lines?|attention|analog(?:y|ies)|lessons?|upon|on|from)\b|paint "
    r"(?:a |an )?(?:\w+ )?picture (?:of|with)|look up to\b|watch (?:out|for)\b)"
)
_CODE_CONTEXT = (
    r"\b(?:python|javascript|typescript|java|c\+\+|c#|golang|rust|code|program|script|function|"
    r"matplotlib|seaborn|plotly|ggplot2?|latex|tikz|svg|ascii|mermaid|graphviz|html|css|sql|excel|turtle|"
    r"pseudo-?code|markdown|console|terminal|bash|shell)\b|代码|程序|编程|函数|脚本|命令行"
)
_POLITE_ZH = "(?:请你?|帮我|麻烦你?|你能(?:不能)?|你可以|能否|可以|能不能|我想让你|我需要你)?(?:帮我|为我|给我)?"
_ZH_TARGET = "(?:这个|该|以下|下面|此|链接|网页|网站|网址|附件|文件|http|www)"
_ACTION_ZH = (
    f"(?:^[\\s\\pP]*{_POLITE_ZH}(?:画(?:一|个|出|幅|张|只|条|下|些|两|三)|绘制|拍(?:一|张|下|摄|照)|"
    f"录(?:制|一段|下)|播放|(?:打开|访问|浏览|点击|下载|上传){_ZH_TARGET}|(?:打|拨打|拨)(?:个|一个|一通)?电话|"
    "发(?:送)?(?:一封)?(?:邮件|短信|消息)给|预订|预定|订.{0,12}?(?:机票|酒店|火车票|车票|门票|餐厅|座位|房间)|购买|买一|"
    "去(?:一趟)?(?:超市|商店|银行|网站)|打印|提醒我|设(?:置)?(?:一个)?(?:闹钟|提醒))"
    "|(?:访问|打开|点击|浏览|进入)(?:这个|该|以下|下面|此)?(?:链接|网址|网站|网页)|(?:访问|打开|点击)\\s*(?:https?://|www\\.))"
)


def impossible_actions(instructions) -> tuple[np.ndarray, list[str | None]]:
    """Instructions to act in the world (draw, take a photo, go to a website, call, buy, 画一幅, 打开链接).

    A request to draw or plot *with code* ("plot the data in matplotlib", "用Python画一个圆") is
    answerable, as are idioms ("draw a conclusion", "paint a picture of life in 1900").
    """
    values = as_strings(instructions)
    pattern = f"{_ACTION_START_EN}|{_ACTION_ANYWHERE_EN}|{_ACTION_ZH}"
    flags = _match(values, pattern) & ~_match(values, _ACTION_EXEMPT_EN) & ~_match(values, _CODE_CONTEXT)
    return flags, _evidence(values, pattern, flags)


_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()\[\]{}，。、；：！？）】》]+", re.IGNORECASE)
_CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_SECOND_LEVEL = {"co", "com", "org", "net", "gov", "edu", "ac"}


def _host(url: str) -> str:
    host = re.sub(r"^(?:https?://)?", "", url, flags=re.IGNORECASE).split("/")[0].split("?")[0].split("#")[0]
    host = host.split("@")[-1].split(":")[0].lower().rstrip(".")
    return host.removeprefix("www.")


def _registered_domain(host: str) -> str:
    labels = host.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def ungrounded_urls(prompts, responses, allowed_hosts: Iterable[str] = ()) -> tuple[np.ndarray, list[str | None]]:
    """How many URLs in each response the prompt never gave, with the first of them.

    A URL is grounded when the prompt contains it, its host, or its registered domain (the prompt
    mentions "python.org"), or its host is allowed (documentation placeholders such as example.com).
    Everything else is likely invented by the model that wrote the response.
    """
    prompts, responses = as_strings(prompts), as_strings(responses)
    allowed = {host.lower().removeprefix("www.") for host in allowed_hosts}
    counts = np.zeros(len(responses), np.int64)
    evidence: list[str | None] = [None] * len(responses)
    candidates = np.nonzero(_match(responses, r"https?://|www\."))[0]
    if len(candidates) == 0:
        return counts, evidence
    chosen = pa.array(candidates)
    for row, prompt, response in zip(
        candidates, prompts.take(chosen).to_pylist(), responses.take(chosen).to_pylist()
    ):
        prompt_lower = prompt.lower()
        for match in _URL.finditer(_CODE_BLOCK.sub(" ", response)):
            if match.start() and match.string[match.start() - 1] in "\"'`":
                continue  # a string literal in code: an endpoint the code calls, not a citation
            url = match.group(0).rstrip(".,;:!?")
            host = _host(url)
            if not host or host in allowed:
                continue
            if url.lower().rstrip("/") in prompt_lower or host in prompt_lower:
                continue
            if _registered_domain(host) in prompt_lower:
                continue
            counts[row] += 1
            if evidence[row] is None:
                evidence[row] = url
    return counts, evidence


_PLACEHOLDER_ANY = r"(?:<\s*(?:no[ _-]?input|no[ _-]?output|empty)\s*>)"
_PLACEHOLDER_RESPONSE = (
    r"(?:\[\s*(?:your|insert|enter|add|name of|recipient|sender|company|job title|position|date|address|"
    r"phone|email|placeholder|todo|tbd|x{2,}|hiring manager|manager|first name|last name|full name|city|"
    r"state|zip|location|product|number|signature)\b[^\]\n]{0,40}\](?:[^(]|$)"
    r"|<\s*(?:insert|your|enter|name of)\b[^>\n]{0,40}>"
    r"|\{\s*(?:your|insert)\b[^}\n]{0,30}\}"
    r"|[\[【［]\s*(?:插入|填写|输入|在此|此处|你的|您的|姓名|名字|日期|公司|地址|电话|职位|收件人|联系方式|签名)[^\]】］\n]{0,30}[\]】］]"
    r"|(?:尊敬的|亲爱的)\s*(?:XXX|xxx|×××|\*\*\*)"
    r"|lorem ipsum)"
)
_TEMPLATE_REQUEST = r"\b(?:template|placeholders?|fill[- ]in|mad ?libs?|form letter)\b|模板|模版|占位|填空"


def placeholders(instructions, inputs, responses) -> tuple[np.ndarray, list[str | None]]:
    """Unfilled template text: ``<noinput>`` anywhere, ``[Your Name]`` / ``[插入...]`` in the response.

    A prompt that asks for a template ("write a form letter template") may get placeholders back.
    """
    instructions, inputs, responses = as_strings(instructions), as_strings(inputs), as_strings(responses)
    everything = pc.binary_join_element_wise(instructions, inputs, responses, "\n")
    anywhere = _match(everything, _PLACEHOLDER_ANY)
    in_response = _match(responses, _PLACEHOLDER_RESPONSE) & ~_match(
        pc.binary_join_element_wise(instructions, inputs, "\n"), _TEMPLATE_REQUEST
    )
    evidence = _evidence(everything, _PLACEHOLDER_ANY, anywhere)
    for row, text in enumerate(_evidence(responses, _PLACEHOLDER_RESPONSE, in_response & ~anywhere)):
        if text is not None:
            evidence[row] = text.rstrip()
    return anywhere | in_response, evidence


def _evidence(values: pa.Array, pattern: str, rows: np.ndarray, limit: int = 40) -> list[str | None]:
    """The matched phrase for the flagged rows (``pattern`` has a group ``m``), shortened."""
    evidence: list[str | None] = [None] * len(values)
    flagged = np.nonzero(rows)[0]
    if len(flagged) == 0:
        return evidence
    found = _extract(values.take(pa.array(flagged)), pattern)
    for row, text in zip(flagged, found):
        if text is not None:
            text = " ".join(text.split()).strip(" \t.,;:!?，。；：！？")
            evidence[row] = text if len(text) <= limit else text[: limit - 1] + "…"
    return evidence
