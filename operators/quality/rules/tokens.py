"""Tokens: whitespace words, with each CJK character a token of its own."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators.quality.rules.arrow import (
    _WIDE_PUNCT_RE2,
    CJK_RE2,
    _count,
    _length_without,
    _match,
    _numpy,
    as_strings,
)


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
