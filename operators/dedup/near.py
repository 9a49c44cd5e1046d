"""Near-duplicate detection with MinHash LSH: signatures -> band buckets -> candidate pairs ->
estimated-Jaccard check -> connected components -> one survivor per cluster.

The functions here are the pure steps; ``jobs/dedup/near.py`` runs them on one table in memory or over a
whole Ray Dataset (the buckets and clusters computed with shuffles), and ``jobs/dedup/components.py``
finds the connected components. Each step depends only on the rows involved, never on their order or on
how they are split into blocks, so both paths give the same clusters and survivors.

Candidate pairs inside a bucket: every pair when the bucket holds at most ``bucket_pairs_limit``
rows; in a larger bucket (typically boilerplate that thousands of rows share) each row is compared
with the first ``bucket_anchors`` rows and with its predecessor (rows ordered by node id), which keeps
the work linear in the bucket size while still linking every row that matches an anchor or a
neighbour.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from sftforge.operators.dedup.config import MinHashConfig
from sftforge.operators.dedup.minhash import band_keys, estimated_jaccard, has_signature, signatures
from sftforge.operators.dedup.shingles import shingle_hashes

STAGE_NAME = "dedup.near"

#: Pairs whose signatures are compared in one vectorised step (bounds memory on huge buckets).
_PAIRS_PER_STEP = 1 << 16


def text_signatures(texts: pa.Array, config: MinHashConfig) -> np.ndarray:
    """MinHash signatures ``(rows, num_perm)`` of a batch of texts (all ``EMPTY`` without shingles)."""
    shingles = shingle_hashes(
        texts,
        ngram_size=config.ngram_size,
        cjk_ngram_size=config.cjk_ngram_size,
        cjk_chars=config.cjk_char_ngrams,
    )
    return signatures(shingles, config.num_perm, config.seed)


def memberships(signature_rows: np.ndarray, config: MinHashConfig) -> tuple[np.ndarray, np.ndarray]:
    """Band bucket keys and the row each belongs to, for rows that have a signature."""
    bands, rows = config.bands
    present = np.flatnonzero(has_signature(signature_rows))
    keys = band_keys(signature_rows[present], bands, rows)
    return keys.ravel(), np.repeat(present, bands)


def candidate_pairs(
    bucket_keys: np.ndarray,
    members: np.ndarray,
    nodes: np.ndarray,
    config: MinHashConfig,
    pinned: np.ndarray | None = None,
) -> np.ndarray:
    """Unique candidate pairs ``(i, j)`` (row indices, ``nodes[i] < nodes[j]``) from shared buckets.

    Args:
        bucket_keys: One bucket key per membership.
        members: The row index of each membership.
        nodes: Node id (``S16``) of every row, which orders rows inside a bucket.
        config: Bucket size limits.
        pinned: Rows of earlier releases; pairs of two such rows are skipped (both already published).
    """
    if not len(bucket_keys):
        return np.zeros((0, 2), dtype=np.int64)
    order = np.lexsort((nodes[members], bucket_keys))
    keys = bucket_keys[order]
    rows = members[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(keys)]]))
    chunks = []
    for size in np.unique(sizes[sizes >= 2]).tolist():
        group_starts = starts[sizes == size]
        group = rows[group_starts[:, None] + np.arange(size)[None, :]]
        if size <= config.bucket_pairs_limit:
            left, right = np.triu_indices(size, 1)
        else:
            anchors = min(config.bucket_anchors, size - 1)
            left_anchor, right_anchor = np.triu_indices(anchors + 1, 1)
            later = np.arange(anchors + 1, size)
            left = np.concatenate([left_anchor, np.repeat(np.arange(anchors), len(later)), later - 1])
            right = np.concatenate([right_anchor, np.tile(later, anchors), later])
        chunks.append(np.stack([group[:, left].ravel(), group[:, right].ravel()], axis=1))
    if not chunks:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(chunks).astype(np.int64)
    if pinned is not None and len(pairs):
        pairs = pairs[~(pinned[pairs[:, 0]] & pinned[pairs[:, 1]])]
    width = np.int64(len(nodes))
    codes = np.unique(pairs[:, 0] * width + pairs[:, 1])
    return np.stack([codes // width, codes % width], axis=1)


def verify_pairs(
    signature_rows: np.ndarray, pairs: np.ndarray, config: MinHashConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs that are near duplicates, with their estimated Jaccard similarity."""
    similarities = np.empty(len(pairs), dtype=np.float64)
    for begin in range(0, len(pairs), _PAIRS_PER_STEP):
        chunk = pairs[begin : begin + _PAIRS_PER_STEP]
        similarities[begin : begin + len(chunk)] = estimated_jaccard(
            signature_rows[chunk[:, 0]], signature_rows[chunk[:, 1]]
        )
    if not config.check_jaccard:
        return pairs, similarities
    keep = similarities >= config.threshold
    return pairs[keep], similarities[keep]


def near_reason(
    survivor_doc_id: str,
    survivor_location: str | None,
    similarity: float,
    threshold: float,
    source: str | None = None,
) -> str:
    """Reject reason of a row clustered with a survivor."""
    where = f" at {survivor_location}" if survivor_location else ""
    if source:
        head = f"near duplicate of doc_id {survivor_doc_id}{where} kept in an earlier release (dedup index {source})"
    else:
        head = f"near duplicate of kept doc_id {survivor_doc_id}{where}"
    tail = f"estimated Jaccard {similarity:.2f}"
    if similarity < threshold:
        tail += f" (linked to it through other near duplicates at threshold {threshold:.2f})"
    return f"{head}; {tail}"
