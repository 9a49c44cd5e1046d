"""Document signals (Gopher, C4, FineWeb): words, symbols, stop words, line shapes, duplicate lines."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators.quality.rules.arrow import _count_plain, _divide, _group, _match, _numpy, as_strings
from sftforge.operators.quality.rules.tokens import Tokens, tokenize

STOP_WORDS_EN: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")
_STOP_WORDS = pa.array(STOP_WORDS_EN)
_TRIM = ".,;:!?\"'()[]{}“”‘’«»"


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
