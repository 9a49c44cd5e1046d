"""ROUGE-L as Self-Instruct uses it: tokens, the exact LCS, and the F-measure with beta = 1.

Tokens are lower-cased words for alphabetic scripts and single characters for CJK, so the same
measure works for English and Chinese. ROUGE-L F1 is ``2 * LCS / (m + n)`` for token sequences of
lengths ``m`` and ``n``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

_CJK_CLASS = (
    "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff"
    "\U00020000-\U0002fa1f"
)
# One CJK character, or a run of letters/digits (word characters other than '_' and CJK).
_TOKEN = re.compile(f"[{_CJK_CLASS}]|[^\\W_{_CJK_CLASS}]+")


def rouge_tokens(text: str) -> list[str]:
    """Tokens ROUGE-L compares: lower-cased words, and each CJK character on its own."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def lcs_length(a: Sequence, b: Sequence) -> int:
    """Length of the longest common subsequence of two sequences (bit-parallel, Hyyro 2004).

    Each bit of ``v`` stands for one position of ``a``; one step per item of ``b`` updates all of them
    at once, so the cost is ``len(b)`` big-integer operations instead of ``len(a) * len(b)`` steps.
    """
    if not a or not b:
        return 0
    return lcs_with_masks(match_masks(a), len(a), b)


def match_masks(a: Iterable) -> dict:
    """For each item of ``a``, the bit mask of the positions where it occurs (reused across LCS calls)."""
    masks: dict = {}
    for position, item in enumerate(a):
        masks[item] = masks.get(item, 0) | (1 << position)
    return masks


def lcs_with_masks(masks: dict, m: int, b: Iterable) -> int:
    """LCS length of the sequence of length ``m`` that ``masks`` describes and ``b``."""
    v = (1 << m) - 1
    get = masks.get
    for item in b:
        u = v & get(item, 0)
        v = (v + u) | (v - u)
    return m - (v & ((1 << m) - 1)).bit_count()


def rouge_l(a: Sequence, b: Sequence) -> float:
    """ROUGE-L F1 of two token sequences (``2 * LCS / (len(a) + len(b))``); 0.0 when either is empty."""
    if not a or not b:
        return 0.0
    return 2.0 * lcs_length(a, b) / (len(a) + len(b))


def rouge_l_text(a: str, b: str) -> float:
    """ROUGE-L F1 of two texts, tokenised with ``rouge_tokens``."""
    return rouge_l(rouge_tokens(a), rouge_tokens(b))
