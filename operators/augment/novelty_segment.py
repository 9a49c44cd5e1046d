"""An immutable block of instructions that finds, for a batch of candidates, those with ROUGE-L >= t.

The filters, all exact (none can drop a pair at or above the threshold):

- **Count.** An LCS is a common sub-multiset, so ``F1 = 2 * LCS / (m + n) >= t`` needs a multiset
  overlap ``o >= t * (m + n) / 2``. Since ``o <= min(m, n)``, that gives ``o >= a * n`` and
  ``o >= a * m`` with ``a = t / (2 - t)`` (0.538 for t = 0.7), hence the **length** filter
  ``a * m <= n <= m / a``.
- **Prefix** (AllPairs / PPJoin). A multiset becomes a set of elements ``(token, k-th occurrence)``,
  sorted by one order of the block (rarest first). Two sets sharing ``o`` elements share one among
  the first ``len - o + 1`` of each. Each record is indexed by that prefix only; a candidate probes
  its own prefix, and only records found that way are considered.
- **Position.** With ``c`` shared prefix elements found and the last one at position ``i`` of the
  candidate and ``j`` of the record, every shared element before it was found (it lies in both
  prefixes), so ``o <= c + min(m - i - 1, n - j - 1)``.
- **Bitmap** (Sandes et al., 2020). Each element sets one of 128 bits (a hash); a bit set in one
  bitmap only belongs to an element the other lacks, so ``popcount(bx ^ by) <= m + n - 2 * o``.
  Checked on every index hit before any grouping: it drops most pairs that share a common frame
  ("Write a short story about ...") but too little else.
- Then the exact multiset overlap, and the exact LCS for the few pairs left.

Everything up to the LCS runs in numpy over a whole batch of candidates at once; the LCS is
bit-parallel (``rouge.lcs_with_masks``). The order and the index are the block's own, so blocks can be
built independently (a growing pool in segments, a pool partitioned across workers) and give the same
decisions as one big block.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sftforge.operators.augment.rouge import lcs_with_masks, match_masks

_OCCURRENCE_BITS = 20
_HASH = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top 7 bits of element * _HASH pick the bit
# Float slack: every bound below is loosened by it, so rounding can only keep a pair, never drop one.
_EPS = 1e-9
# The same for the bitmap test, done in float32 (far above float32's error on numbers below 10**4).
_SLACK32 = 1e-3


def alpha(threshold: float) -> float:
    """Least overlap, as a share of either length, of two sequences with ROUGE-L F1 >= threshold."""
    return threshold / (2.0 - threshold)


def prefix_lengths(sizes: np.ndarray, threshold: float) -> np.ndarray:
    """``len - least overlap + 1``: the prefix that must hold a shared element."""
    least = np.maximum(1, np.ceil(alpha(threshold) * sizes - _EPS)).astype(np.int64)
    return sizes - least + 1


def occurrence_elements(tokens: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """``(token << 20) | k`` where ``k`` counts the token's earlier occurrences in the same sequence.

    Negative tokens (unknown to the vocabulary) give -1: an element no block holds.
    """
    if not len(tokens):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(len(tokens)), tokens, owner))
    sorted_tokens, sorted_owner = tokens[order], owner[order]
    new_group = np.ones(len(tokens), dtype=bool)
    new_group[1:] = (sorted_tokens[1:] != sorted_tokens[:-1]) | (sorted_owner[1:] != sorted_owner[:-1])
    positions = np.arange(len(tokens))
    k_sorted = positions - np.maximum.accumulate(np.where(new_group, positions, 0))
    k = np.empty(len(tokens), dtype=np.int64)
    k[order] = k_sorted
    return np.where(tokens >= 0, (tokens << _OCCURRENCE_BITS) | k, -1)


def bitmaps(elements: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Two 64-bit words per sequence: bit ``hash(element) % 128`` set for each of its elements."""
    if not len(elements):
        return np.zeros((len(offsets) - 1, 2), dtype=np.uint64)
    with np.errstate(over="ignore"):
        bit = (elements.astype(np.uint64) * _HASH) >> np.uint64(57)
    one = np.left_shift(np.uint64(1), bit & np.uint64(63))
    words = np.zeros((len(elements), 2), dtype=np.uint64)
    high = (bit >> np.uint64(6)).astype(bool)
    words[~high, 0] = one[~high]
    words[high, 1] = one[high]
    out = np.zeros((len(offsets) - 1, 2), dtype=np.uint64)
    sizes = np.diff(offsets)
    filled = sizes > 0
    out[filled] = np.bitwise_or.reduceat(words, offsets[:-1][filled], axis=0)
    return out


def _popcount(words: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    return np.unpackbits(words.view(np.uint8).reshape(*words.shape, 8), axis=-1).sum(axis=-1, dtype=np.int32)


def _flatten(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    flat = np.fromiter((t for s in sequences for t in s), dtype=np.int64, count=int(offsets[-1]))
    return flat, offsets


def _gather(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Indexes ``starts[g] + 0 .. counts[g] - 1`` for every group ``g``, one group after the other."""
    firsts = np.cumsum(counts) - counts
    return np.repeat(starts - firsts, counts) + np.arange(int(counts.sum()))


class NoveltySegment:
    """Instructions (as token ids) with their prefix index; never changes once built.

    Args:
        tokens: Token ids of all instructions, one after the other (non-negative).
        offsets: Where each instruction starts in ``tokens``, and the end (none empty).
        threshold: ROUGE-L F1 at or above which two instructions are near copies.
    """

    # Queries answered together: big enough to amortise numpy's per-call cost, small enough that the
    # arrays of index hits stay in cache.
    chunk = 64

    def __init__(self, tokens: np.ndarray, offsets: np.ndarray, threshold: float):
        self.threshold = threshold
        tokens, self.offsets = tokens.astype(np.int64), offsets.astype(np.int64)
        self.sizes = np.diff(self.offsets)
        if len(self.sizes) and self.sizes.min() < 1:
            raise ValueError("a segment holds no empty sequence")
        owner = np.repeat(np.arange(len(self.sizes)), self.sizes)
        elements = occurrence_elements(tokens, owner)
        self.elements, inverse, counts = np.unique(elements, return_inverse=True, return_counts=True)
        rank_of = np.empty(len(self.elements), dtype=np.int64)
        rank_of[np.lexsort((self.elements, counts))] = np.arange(len(self.elements))  # rarest first
        self.rank_of = rank_of
        width = len(self.elements) + 1
        keys = owner * width + rank_of[inverse.reshape(-1)]
        keys.sort()
        ranks = keys - owner * width  # each record's element ranks, ascending
        position = np.arange(len(tokens)) - self.offsets[owner]
        in_prefix = position < prefix_lengths(self.sizes, threshold)[owner]
        self._size_span = int(self.sizes.max(initial=0)) + 2
        post_owner = owner[in_prefix]
        post_keys = ranks[in_prefix] * self._size_span + self.sizes[post_owner]
        order = np.argsort(post_keys, kind="stable")  # by rank, then length, then record
        self.post_keys = post_keys[order]
        self.post_records = post_owner[order].astype(np.int32)
        self.post_positions = position[in_prefix][order].astype(np.int32)
        self.post_sizes = self.sizes[self.post_records].astype(np.int32)
        self.post_slack = ((1.0 - threshold) * self.post_sizes).astype(np.float32)
        # Each posting carries its record's bitmap, so the bitmap test reads the postings in order.
        record_bitmaps = bitmaps(elements, self.offsets)
        self.post_bitmap_low = record_bitmaps[self.post_records, 0]
        self.post_bitmap_high = record_bitmaps[self.post_records, 1]
        # Kept as int32 (half the memory of a big pool); vocabularies and orders stay below 2**31.
        self.tokens, self.ranks = tokens.astype(np.int32), ranks.astype(np.int32)

    @classmethod
    def of(cls, sequences: Sequence[Sequence[int]], threshold: float) -> NoveltySegment:
        """A segment of the given token-id sequences."""
        return cls(*_flatten(sequences), threshold)

    @classmethod
    def merged(cls, older: NoveltySegment, newer: NoveltySegment) -> NoveltySegment:
        """One segment of both (records of ``older`` first), with an order and index of its own."""
        offsets = np.concatenate([older.offsets, newer.offsets[1:] + older.offsets[-1]])
        return cls(np.concatenate([older.tokens, newer.tokens]), offsets, older.threshold)

    def __len__(self) -> int:
        return len(self.sizes)

    def sequence(self, record: int) -> list[int]:
        """Token ids of one record."""
        return self.tokens[self.offsets[record] : self.offsets[record + 1]].tolist()

    def matches(
        self, queries: Sequence[Sequence[int]], *, first_only: bool = True
    ) -> tuple[list[list[tuple[int, float]]], np.ndarray, np.ndarray]:
        """Records with ROUGE-L F1 >= threshold against each query.

        Args:
            queries: Token ids of each query (negative: a token the segment's vocabulary lacks).
            first_only: Stop at a query's first match (the record sharing most tokens is tried first).

        Returns:
            ``(found, best, compared)``: per query, the ``(record, score)`` pairs at or above the
            threshold; the highest score among the pairs given an exact LCS; and how many got one.
        """
        found: list[list[tuple[int, float]]] = [[] for _ in queries]
        best = np.zeros(len(queries))
        compared = np.zeros(len(queries), dtype=np.int64)
        if len(self):
            for start in range(0, len(queries), self.chunk):
                part = queries[start : start + self.chunk]
                pq, pr, overlap = self._candidates(part)
                self._verify(part, pq, pr, overlap, first_only, found, best, compared, start)
        return found, best, compared

    def _candidates(self, queries: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query, record, multiset overlap) of the pairs that pass every filter but the LCS."""
        t, a = self.threshold, alpha(self.threshold)
        empty = np.zeros(0, dtype=np.int64)
        tokens, offsets = _flatten(queries)
        qsizes = np.diff(offsets)
        owner = np.repeat(np.arange(len(queries)), qsizes)
        elements = occurrence_elements(tokens, owner)
        qbitmaps = bitmaps(elements, offsets)
        at = np.minimum(np.searchsorted(self.elements, elements), len(self.elements) - 1)
        ranks = np.where((elements >= 0) & (self.elements[at] == elements), self.rank_of[at], -1)
        width = len(self.elements) + 2
        keys = owner * width + ranks + 1
        keys.sort()  # each query's ranks ascending, unknown elements (-1) first
        ranks = keys - owner * width - 1
        position = np.arange(len(ranks)) - offsets[owner]
        probe = (position < prefix_lengths(qsizes, t)[owner]) & (ranks >= 0)
        probe_query, probe_position, probe_rank = owner[probe], position[probe], ranks[probe]
        m = qsizes[probe_query]
        shortest = np.maximum(1, np.ceil(a * m - _EPS)).astype(np.int64)
        longest = np.minimum(np.floor(m / a + _EPS).astype(np.int64), self._size_span - 1)
        lo = np.searchsorted(self.post_keys, probe_rank * self._size_span + shortest, "left")
        hi = np.searchsorted(self.post_keys, probe_rank * self._size_span + longest, "right")
        counts = np.maximum(hi - lo, 0)
        hits = _gather(lo, counts)
        if not len(hits):
            return empty, empty, empty
        # Bitmap first, on every hit (few passes: values repeated per probe, the record's part stored in
        # the posting): popcount(xor) <= m + n - 2 * overlap and overlap >= t * (m + n) / 2, so
        # popcount(xor) - (1 - t) * n <= (1 - t) * m.
        probe_bitmaps = qbitmaps[probe_query]
        differ = _popcount(np.repeat(probe_bitmaps[:, 0], counts) ^ self.post_bitmap_low[hits])
        differ += _popcount(np.repeat(probe_bitmaps[:, 1], counts) ^ self.post_bitmap_high[hits])
        allowed = ((1.0 - t) * m + _SLACK32).astype(np.float32)
        keep = differ - self.post_slack[hits] <= np.repeat(allowed, counts)
        hit_probe = np.repeat(np.arange(len(counts)), counts)[keep]
        hits = hits[keep]
        m, n, hit_query = m[hit_probe], self.post_sizes[hits], probe_query[hit_probe]
        # Position: the shared elements up to this one number at most min(i, j) + 1.
        i, j = probe_position[hit_probe], self.post_positions[hits]
        room = np.minimum(i, j) + 1 + np.minimum(m - i - 1, n - j - 1)
        keep = room >= t * (m + n) / 2.0 - _EPS
        pairs = np.unique(hit_query[keep].astype(np.int64) * len(self) + self.post_records[hits[keep]])
        if not len(pairs):
            return empty, empty, empty
        pq, pr = pairs // len(self), pairs % len(self)
        overlap = self._overlaps(ranks, offsets, pq, pr)
        keep = overlap >= t * (qsizes[pq] + self.sizes[pr]) / 2.0 - _EPS
        return pq[keep], pr[keep], overlap[keep]

    def _verify(self, queries, pq, pr, overlap, first_only, found, best, compared, base: int) -> None:
        """Exact LCS of the candidate pairs, most shared first per query (``queries[k]`` is number
        ``base + k`` in ``found``, ``best`` and ``compared``)."""
        order = np.lexsort((-overlap, pq))
        masks: dict[int, dict] = {}
        t = self.threshold
        for local, record in zip(pq[order].tolist(), pr[order].tolist()):
            query = base + local
            if first_only and found[query]:
                continue
            mask = masks.get(local)
            if mask is None:
                mask = masks[local] = match_masks(queries[local])
            size = len(queries[local])
            start, end = self.offsets[record], self.offsets[record + 1]
            lcs = lcs_with_masks(mask, size, self.tokens[start:end].tolist())
            score = 2.0 * lcs / (size + int(end - start))
            compared[query] += 1
            if score >= t:
                found[query].append((record, score))
            best[query] = max(best[query], score)

    def _overlaps(self, ranks: np.ndarray, offsets: np.ndarray, pq: np.ndarray, pr: np.ndarray) -> np.ndarray:
        """Multiset overlap of each (query, record) pair: the record's elements found among the query's
        (``ranks`` is each query's ascending ranks, so ``query * width + rank`` is sorted)."""
        width = len(self.elements) + 1
        owner = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        query_keys = owner * width + ranks  # unknown elements (-1) never equal a record's rank
        r_idx = _gather(self.offsets[pr], self.sizes[pr])
        r_pair = np.repeat(np.arange(len(pr)), self.sizes[pr])
        wanted = pq[r_pair] * width + self.ranks[r_idx].astype(np.int64)
        at = np.minimum(np.searchsorted(query_keys, wanted), len(query_keys) - 1)
        return np.bincount(r_pair[query_keys[at] == wanted], minlength=len(pq))
