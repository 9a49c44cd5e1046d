"""An exact novelty reference fast enough for large pools, independent of ``NoveltyIndex``'s segments.

A candidate of ``m`` tokens is a near copy of a pool instruction of ``n`` tokens when
``2 * LCS / (m + n) >= t`` (ROUGE-L F1, ``t`` = 0.7). The LCS is at most the size of the multiset
intersection of the two token bags, ``I = sum over tokens of min(count_a, count_b)``; ``I`` is the number of
shared *occurrence features* ``(token, k)`` ("the k-th occurrence of token"), so it is a plain set
intersection. Two sound prunings follow, then the exact LCS decides:

* ``I <= n`` gives ``I >= t * m / (2 - t)`` for any match: a match shares at least
  ``need = ceil(t * m / (2 - t))`` of the candidate's ``m`` features, so it shares one of the candidate's
  ``m - need + 1`` rarest features (prefix filtering): only the rows on those features' posting lists
  can match (features absent from the pool count as the rarest and match nothing);
* on those rows, ``2 * I >= t * (m + n)`` (integer arithmetic) must hold;
* the survivors get an exact LCS (a plain dynamic programme, not the project's bit-parallel one).

The decision uses the same float comparison as ``naive_scan`` (``2.0 * lcs / (m + n) >= t``).
Tokenisation is the project's ``rouge_tokens``: the measure is defined on those tokens.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from sftforge.operators.augment.rouge import rouge_tokens


def plain_lcs(a: list[int], b: list[int]) -> int:
    """Length of the longest common subsequence: the textbook O(m * n) dynamic programme."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


class PrefixFilterScan:
    """Exact ROUGE-L novelty decisions against a fixed pool.

    Args:
        pool: The pool instructions.
        threshold: ROUGE-L F1 at or above which a candidate is a near copy.
    """

    def __init__(self, pool: list[str], threshold: float = 0.7):
        self.threshold = threshold
        ratio = Fraction(str(threshold))
        self._p, self._q = ratio.numerator, ratio.denominator  # t = p / q exactly, as written
        self.vocab: dict[str, int] = {}
        self.features: dict[tuple[int, int], int] = {}
        sequences: list[list[int]] = []
        row_features: list[list[int]] = []
        for text in pool:
            ids = [self.vocab.setdefault(token, len(self.vocab)) for token in rouge_tokens(text)]
            if not ids:
                continue
            sequences.append(ids)
            row_features.append(self._features_of(ids, grow=True))
        self.sequences = sequences
        self.sizes = np.array([len(s) for s in sequences], dtype=np.int64)
        lengths = np.array([len(f) for f in row_features], dtype=np.int64)
        self.row_offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.row_features = np.fromiter((f for fs in row_features for f in fs), dtype=np.int64,
                                        count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(row_features), dtype=np.int64), lengths)
        order = np.argsort(self.row_features, kind="stable")
        self.postings = rows[order]  # rows of each feature, ascending
        self.df = np.bincount(self.row_features, minlength=len(self.features))
        self.posting_offsets = np.concatenate([[0], np.cumsum(self.df)])
        self.pairs_checked = 0
        self.lcs_computed = 0

    def _features_of(self, ids: list[int], grow: bool) -> list[int]:
        seen: dict[int, int] = {}
        out = []
        for token in ids:
            k = seen.get(token, 0)
            seen[token] = k + 1
            key = (token, k)
            if grow:
                out.append(self.features.setdefault(key, len(self.features)))
            elif key in self.features:
                out.append(self.features[key])
            else:
                out.append(-1)
        return out

    def novel(self, text: str) -> bool:
        """True when no pool instruction reaches the threshold against ``text``."""
        ids = [self.vocab.get(token, -1) for token in rouge_tokens(text)]
        m = len(ids)
        if m == 0 or not self.sequences:
            return True
        features = self._features_of(ids, grow=False)
        present = np.array(sorted((f for f in features if f >= 0), key=lambda f: (self.df[f], f)),
                           dtype=np.int64)
        need = math.ceil(Fraction(self._p * m, 2 * self._q - self._p))
        prefix = m - need + 1 - (m - len(present))  # absent features are the rarest and match nothing
        if prefix <= 0:
            return True
        rows = np.unique(np.concatenate(
            [self.postings[self.posting_offsets[f]:self.posting_offsets[f + 1]] for f in present[:prefix]]
        ))
        n = self.sizes[rows]
        # I <= min(m, n): both lengths bound the overlap, so n outside this band cannot match.
        keep = (self._q * 2 * np.minimum(n, m) >= self._p * (m + n))
        rows, n = rows[keep], n[keep]
        if rows.size == 0:
            return True
        starts, ends = self.row_offsets[rows], self.row_offsets[rows + 1]
        lengths = ends - starts
        index = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(
            lengths.sum())
        hits = np.isin(self.row_features[index], present).astype(np.int64)
        overlap = np.add.reduceat(hits, np.concatenate([[0], np.cumsum(lengths)[:-1]]))
        survivors = rows[self._q * 2 * overlap >= self._p * (m + n)]
        self.pairs_checked += int(rows.size)
        for row in survivors.tolist():
            self.lcs_computed += 1
            other = self.sequences[row]
            if 2.0 * plain_lcs(ids, other) / (m + len(other)) >= self.threshold:
                return False
        return True
