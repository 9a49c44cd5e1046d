"""The Self-Instruct novelty filter: ROUGE-L against every instruction so far, without scanning them all.

A candidate is rejected when its ROUGE-L F1 against any instruction in the pool is at or above the
threshold (0.7 in the paper). ROUGE-L F1 is ``2 * LCS / (m + n)`` for token sequences of lengths ``m``
and ``n``; tokens are lower-cased words for alphabetic scripts and single characters for CJK, so the same
filter works for English and Chinese.

Scaling: a full scan costs one LCS per pool instruction per candidate. ``NoveltyIndex`` instead keeps a
prefix-filter inverted index (the AllPairs / PPJoin idea from set-similarity joins). Since an LCS is a
common sub-multiset, ``F1 >= t`` implies the multiset Dice similarity is ``>= t``, hence (with
``a = t / (2 - t)``) the two lengths are within a factor ``a`` of each other and they share at least
``ceil(a * n)`` tokens, for ``n`` the length of either one. Under any fixed order of the tokens, two such
multisets share a token among the first ``n - ceil(a * n) + 1`` of each. So each pool instruction is
indexed by that prefix only (rarest tokens first), a candidate probes its own prefix, and only pool
instructions found that way, with a compatible length, get an exact LCS. No pair at or above the
threshold can be missed: the decisions are exactly those of the full scan.
"""

from __future__ import annotations

import math
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

_CJK_CLASS = (
    "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff"
    "\U00020000-\U0002fa1f"
)
# One CJK character, or a run of letters/digits (word characters other than '_' and CJK).
_TOKEN = re.compile(f"[{_CJK_CLASS}]|[^\\W_{_CJK_CLASS}]+")

# Occurrence index k of a token inside one text becomes part of its multiset element: (token << 20) | k.
_OCCURRENCE_BITS = 20


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
    return _lcs_with_masks(_match_masks(a), len(a), b)


def _match_masks(a: Sequence) -> dict:
    masks: dict = {}
    for position, item in enumerate(a):
        masks[item] = masks.get(item, 0) | (1 << position)
    return masks


def _lcs_with_masks(masks: dict, m: int, b: Iterable) -> int:
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


@dataclass(frozen=True)
class NoveltyVerdict:
    """Whether a candidate is new enough, with the evidence when it is not.

    Attributes:
        novel: True when no pool instruction reaches the threshold.
        score: ROUGE-L of the match found (the first at or above the threshold), else the highest
            score among the pool instructions that were compared (0.0 when none were).
        match: Text of the matching pool instruction (None when novel, or when texts are not kept).
        compared: Pool instructions that got an exact LCS.
    """

    novel: bool
    score: float
    match: str | None = None
    compared: int = 0


class NoveltyIndex:
    """A growing pool of instructions that answers "is this candidate new?" exactly and fast.

    Args:
        threshold: ROUGE-L F1 at or above which a candidate is a near copy (in (0, 1]).
        keep_texts: Keep each instruction's text to name the match in verdicts (costs memory).
        rebuild_factor: Re-rank tokens by their frequency whenever the pool has grown by this factor
            since the last ranking (amortised linear; any order is correct, a frequency order is fast).
    """

    def __init__(self, threshold: float = 0.7, *, keep_texts: bool = True, rebuild_factor: float = 2.0):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if rebuild_factor <= 1.0:
            raise ValueError("rebuild_factor must be > 1")
        self.threshold = threshold
        # Multiset Dice >= t  <=>  shared >= a * own length for both, with a = t / (2 - t).
        self._alpha = threshold / (2.0 - threshold)
        self._keep_texts = keep_texts
        self._rebuild_factor = rebuild_factor
        self._vocab: dict[str, int] = {}
        self._tokens = array("i")
        self._elements_flat = array("q")
        self._offsets = array("q", [0])
        self._sizes = array("i")
        self._texts: list[str] = []
        self._rank: dict[int, int] = {}
        self._next_new_rank = -1
        self._postings: dict[int, array] = {}  # element -> pool records whose prefix holds it
        self._positions: dict[int, array] = {}  # element -> its position in each record's ordered elements
        self._ranked_at = 0

    def __len__(self) -> int:
        return len(self._sizes)

    def _min_overlap(self, n: int) -> int:
        # Rounded down by a hair so that float error can only lengthen a prefix, never shorten it.
        return max(1, math.ceil(self._alpha * n - 1e-9))

    def _prefix_length(self, n: int) -> int:
        return n - self._min_overlap(n) + 1

    def _elements(self, token_ids: Sequence[int]) -> list[int]:
        seen: dict[int, int] = {}
        elements = []
        for token in token_ids:
            k = seen.get(token, 0)
            seen[token] = k + 1
            elements.append((token << _OCCURRENCE_BITS) | k)
        return elements

    def _ranked_prefix(self, elements: list[int]) -> list[int]:
        rank = self._rank
        # Elements the index has never seen sort first: they are in no pool instruction, so where they
        # sit in the order cannot hide a match, and each one spent on the prefix saves a probe.
        ordered = sorted(elements, key=lambda element: rank.get(element, -(1 << 62)))
        return ordered[: self._prefix_length(len(elements))]

    def _token_ids(self, tokens: Sequence[str], grow: bool) -> list[int]:
        vocab = self._vocab
        if not grow:
            return [vocab.get(token, -1) for token in tokens]
        ids = []
        for token in tokens:
            token_id = vocab.get(token)
            if token_id is None:
                token_id = vocab[token] = len(vocab)
            ids.append(token_id)
        return ids

    def check(self, text: str) -> NoveltyVerdict:
        """Compares ``text`` with the pool without adding it."""
        return self._check_tokens(rouge_tokens(text))

    def _check_tokens(self, tokens: list[str]) -> NoveltyVerdict:
        m = len(tokens)
        if m == 0 or not self._sizes:
            return NoveltyVerdict(novel=True, score=0.0)
        token_ids = self._token_ids(tokens, grow=False)
        # Unknown tokens (-1) get distinct negative ids so that they never match and never collide.
        token_ids = [token if token >= 0 else -1 - index for index, token in enumerate(token_ids)]
        prefix = self._ranked_prefix(self._elements(token_ids))
        records, positions, probes = [], [], []
        for i, element in enumerate(prefix):
            ids = self._postings.get(element)
            if ids is not None:
                records.append(np.frombuffer(ids, dtype=np.int32))
                positions.append(np.frombuffer(self._positions[element], dtype=np.int32))
                probes.append(np.full(len(ids), i, dtype=np.int32))
        if not records:
            return NoveltyVerdict(novel=True, score=0.0)
        # Probes go in prefix order, so a record's first occurrence is its first shared element.
        candidates, first = np.unique(np.concatenate(records), return_index=True)
        sizes = np.frombuffer(self._sizes, dtype=np.int32)[candidates]
        needed = self.threshold * (m + sizes) / 2.0 - 1e-9
        # Length filter, and positional filter (PPJoin): with the first shared element at position i of
        # the query and j of the record, at most 1 + min(m - i - 1, n - j - 1) elements are shared.
        i = np.concatenate(probes)[first]
        j = np.concatenate(positions)[first]
        bound = 1 + np.minimum(m - i - 1, sizes - j - 1)
        keep = (sizes >= self._alpha * m - 1e-9) & (sizes <= m / self._alpha + 1e-9) & (bound >= needed)
        candidates, sizes = candidates[keep], sizes[keep]
        if not len(candidates):
            return NoveltyVerdict(novel=True, score=0.0)
        # Count filter: LCS <= shared tokens (as multisets), so F1 >= t needs shared >= t * (m + n) / 2.
        shared = self._shared_counts(candidates, sizes, self._elements(token_ids))
        enough = shared >= self.threshold * (m + sizes) / 2.0 - 1e-9
        candidates, shared = candidates[enough], shared[enough]
        # Most shared first: a near copy, when there is one, is usually found at the first LCS.
        candidates = candidates[np.argsort(-shared, kind="stable")]
        masks = _match_masks(token_ids)
        best = 0.0
        tokens_flat = self._tokens
        offsets = self._offsets
        for compared, record in enumerate(candidates.tolist(), start=1):
            start, end = offsets[record], offsets[record + 1]
            n = end - start
            lcs = _lcs_with_masks(masks, m, tokens_flat[start:end])
            score = 2.0 * lcs / (m + n)
            if score >= self.threshold:
                match = self._texts[record] if self._keep_texts else None
                return NoveltyVerdict(novel=False, score=score, match=match, compared=compared)
            best = max(best, score)
        return NoveltyVerdict(novel=True, score=best, compared=len(candidates))

    def _shared_counts(self, records: np.ndarray, sizes: np.ndarray, elements: list[int]) -> np.ndarray:
        """Tokens (as multiset elements) each record shares with the query, vectorised."""
        starts = np.frombuffer(self._offsets, dtype=np.int64)[records]
        ends = np.cumsum(sizes, dtype=np.int64)
        positions = np.arange(ends[-1], dtype=np.int64) + np.repeat(starts - (ends - sizes), sizes)
        gathered = np.frombuffer(self._elements_flat, dtype=np.int64)[positions]
        hits = np.isin(gathered, np.asarray(elements, dtype=np.int64)).astype(np.int32)
        return np.add.reduceat(hits, ends - sizes)

    def add(self, text: str) -> None:
        """Adds ``text`` to the pool unconditionally (seed tasks, or a resumed run's accepted ones)."""
        self._add_tokens(text, rouge_tokens(text))

    def add_if_novel(self, text: str) -> NoveltyVerdict:
        """Checks ``text`` and adds it when it is novel; returns the verdict."""
        tokens = rouge_tokens(text)
        verdict = self._check_tokens(tokens)
        if verdict.novel:
            self._add_tokens(text, tokens)
        return verdict

    def extend(self, texts: Iterable[str]) -> None:
        """Adds many texts unconditionally."""
        for text in texts:
            self.add(text)

    def _add_tokens(self, text: str, tokens: list[str]) -> None:
        if not tokens:
            return  # an instruction with no tokens can match nothing
        token_ids = self._token_ids(tokens, grow=True)
        record = len(self._sizes)
        self._tokens.extend(token_ids)
        self._offsets.append(len(self._tokens))
        elements = self._elements(token_ids)
        self._elements_flat.extend(elements)
        self._sizes.append(len(token_ids))
        if self._keep_texts:
            self._texts.append(text)
        for element in elements:
            if element not in self._rank:
                self._rank[element] = self._next_new_rank
                self._next_new_rank -= 1
        self._index_record(record, elements)
        if len(self._sizes) >= max(64, self._ranked_at * self._rebuild_factor):
            self._rerank()

    def _index_record(self, record: int, elements: list[int]) -> None:
        postings, positions = self._postings, self._positions
        for position, element in enumerate(self._ranked_prefix(elements)):
            ids = postings.get(element)
            if ids is None:
                ids = postings[element] = array("i")
                positions[element] = array("i")
            ids.append(record)
            positions[element].append(position)

    def _rerank(self) -> None:
        """Orders elements by pool frequency (rarest first) and rebuilds the prefix postings."""
        flat, offsets = self._elements_flat, self._offsets
        order = sorted(Counter(flat).items(), key=lambda item: (item[1], item[0]))
        self._rank = {element: position for position, (element, _) in enumerate(order)}
        del order
        self._next_new_rank = -1
        self._postings = {}
        self._positions = {}
        for record in range(len(self._sizes)):
            self._index_record(record, flat[offsets[record] : offsets[record + 1]].tolist())
        self._ranked_at = len(self._sizes)


def naive_scan(text: str, pool_tokens: Sequence[Sequence[str]], threshold: float = 0.7) -> NoveltyVerdict:
    """The full scan that ``NoveltyIndex`` replaces: one exact ROUGE-L per pool instruction.

    Stops at the first pool instruction at or above the threshold, as the index does.
    """
    tokens = rouge_tokens(text)
    m = len(tokens)
    if m == 0:
        return NoveltyVerdict(novel=True, score=0.0)
    masks = _match_masks(tokens)
    best = 0.0
    for compared, other in enumerate(pool_tokens, start=1):
        if not other:
            continue
        score = 2.0 * _lcs_with_masks(masks, m, other) / (m + len(other))
        if score >= threshold:
            return NoveltyVerdict(novel=False, score=score, compared=compared)
        best = max(best, score)
    return NoveltyVerdict(novel=True, score=best, compared=len(pool_tokens))
