"""MinHash signatures, LSH band keys and Jaccard estimates, vectorised over a batch.

The permutations are datasketch's ``affine32`` scheme (datasketch >= 2.0): a shingle's 32-bit hash ``h``
is pre-mixed with ``fmix32`` and permuted by ``a_k * h + b_k mod 2**32`` with ``(a, b)`` drawn from
``numpy.random.RandomState(seed)`` exactly as ``datasketch.MinHash(num_perm, seed)`` draws them. Given
the same shingle hashes, a signature here is identical, value for value, to ``MinHash.hashvalues``
(tested), so signatures are the same on every run and every worker.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sftforge.operators.dedup.hashing import fmix32, fmix64
from sftforge.operators.dedup.shingles import Shingles

#: Signature value of a document without shingles (datasketch's empty value); such documents never
#: take part in near-duplicate detection.
EMPTY = np.uint32(0xFFFFFFFF)

#: How many (shingle x permutation) cells one vectorised step handles: sized to stay in cache.
_CELLS_PER_CHUNK = 1 << 18


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` uint32 parameters of datasketch ``MinHash(num_perm, seed, scheme='affine32')``."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def signatures(shingles: Shingles, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """MinHash signatures of a batch: a ``(documents, num_perm)`` uint32 array.

    Rows of documents without shingles are all ``EMPTY``.
    """
    a, b = permutations(num_perm, seed)
    num_docs = len(shingles.offsets) - 1
    out = np.full((num_docs, num_perm), EMPTY, dtype=np.uint32)
    counts = shingles.counts
    present = np.flatnonzero(counts > 0)
    if not len(present):
        return out
    mixed = fmix32(shingles.hashes)
    doc_starts = shingles.offsets[present]
    shingle_doc = np.repeat(present, counts[present])
    total = len(mixed)
    rows_per_chunk = max(1, _CELLS_PER_CHUNK // num_perm)
    buffer = np.empty((num_perm, rows_per_chunk), dtype=np.uint32)
    a_column, b_column = a[:, None], b[:, None]
    # Fixed-size slices of the shingle list keep the (permutations x shingles) block in cache; a
    # document that straddles slices is reduced in each and merged with a running minimum. The
    # permutation axis comes first because numpy reduces contiguous runs much faster.
    for begin in range(0, total, rows_per_chunk):
        end = min(begin + rows_per_chunk, total)
        chunk = buffer[:, : end - begin]
        np.multiply(a_column, mixed[None, begin:end], out=chunk)
        chunk += b_column
        inner = doc_starts[
            np.searchsorted(doc_starts, begin, "right") : np.searchsorted(doc_starts, end, "left")
        ]
        segments = np.concatenate([[0], inner - begin])
        reduced = np.minimum.reduceat(chunk, segments, axis=1).T
        docs = shingle_doc[begin + segments]
        out[docs] = np.minimum(out[docs], reduced)
    return out


def has_signature(signature_rows: np.ndarray) -> np.ndarray:
    """True for rows computed from at least one shingle."""
    return signature_rows[:, 0] != EMPTY if signature_rows.ndim == 2 else signature_rows != EMPTY


@lru_cache(maxsize=64)
def lsh_bands(threshold: float, num_perm: int, false_negative_weight: float = 0.5) -> tuple[int, int]:
    """Bands x rows per band (``bands * rows <= num_perm``) that minimise the weighted error at ``threshold``.

    Two rows of Jaccard similarity ``s`` share a band with probability ``P(s) = 1 - (1 - s^r)^b``. The
    false-positive mass is the integral of ``P`` over ``[0, threshold]``, the false-negative mass that
    of ``1 - P`` over ``[threshold, 1]``; the error is ``(1 - w) * fp + w * fn`` with
    ``w = false_negative_weight``. This is the choice datasketch's ``MinHashLSH(weights=(1 - w, w))``
    makes, and it gives the same (bands, rows) (tested): 0.5 is datasketch's default, which misses 60%
    of pairs at the threshold itself. Ties go to the fewest bands, then the fewest rows.
    """
    candidates = np.array(
        [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=np.float64
    )
    bands, rows = candidates[:, :1], candidates[:, 1:]
    # The integrands are polynomials of degree b * r <= num_perm, which Gauss-Legendre quadrature with
    # num_perm // 2 + 1 nodes integrates exactly (up to rounding).
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def integral(low: float, high: float, missed: bool) -> np.ndarray:
        s = low + (high - low) * (nodes + 1.0) / 2.0
        apart = (1.0 - s[None, :] ** rows) ** bands  # P(no band shared) at each node
        return (high - low) / 2.0 * ((apart if missed else 1.0 - apart) @ weights)

    false_positives = integral(0.0, threshold, missed=False)
    false_negatives = integral(threshold, 1.0, missed=True)
    error = (1.0 - false_negative_weight) * false_positives + false_negative_weight * false_negatives
    best = int(np.argmin(error))
    return int(candidates[best, 0]), int(candidates[best, 1])


@lru_cache(maxsize=8)
def _band_multipliers(rows: int) -> np.ndarray:
    return np.random.RandomState(rows + 7919).randint(1, 1 << 62, size=rows, dtype=np.int64).astype(
        np.uint64
    ) * np.uint64(2) + np.uint64(1)


def band_keys(signature_rows: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """A ``(documents, bands)`` uint64 key per band: two documents share key ``j`` iff (up to a 64-bit
    collision) their signatures agree on all ``rows`` values of band ``j``. The band number is mixed
    in, so keys of different bands never meet in a bucket."""
    if bands * rows > signature_rows.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} permutations")
    cells = signature_rows[:, : bands * rows].reshape(len(signature_rows), bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        combined = (cells * _band_multipliers(rows)).sum(axis=2, dtype=np.uint64)
        combined += np.arange(1, bands + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return fmix64(combined)


def estimated_jaccard(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Fraction of agreeing signature values, row by row (the MinHash Jaccard estimate)."""
    return (left == right).mean(axis=-1)
