"""Arrow and numpy helpers shared by every rule family: strings, regex matches, grouping, evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators.text import CJK_PY, CJK_RANGES, CJK_RE2  # noqa: F401 - re-exported

# CJK and full-width punctuation, curly quotes, ellipsis and dashes: split off as tokens of their own so
# that "你好，世界" tokenises like "你 好 ， 世 界".
_WIDE_PUNCT_RE2 = "\\x{3000}-\\x{303F}\\x{FF00}-\\x{FF65}\\x{2018}-\\x{201F}\\x{2026}\\x{2014}\\x{00B7}"



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
