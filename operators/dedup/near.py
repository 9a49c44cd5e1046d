"""Near-duplicate detection with MinHash LSH: signatures -> band buckets -> candidate pairs ->
estimated-Jaccard check -> connected components -> one survivor per cluster.

The functions here are the pure steps, used both by ``MinHashDeduplicator`` (one table in memory) and
by ``jobs.dedup`` (a whole Ray Dataset, the buckets and clusters computed with shuffles). Each step
depends only on the rows involved, never on their order or on how they are split into blocks, so both
give the same clusters and survivors.

Candidate pairs inside a bucket: every pair when the bucket holds at most ``bucket_pairs_limit``
rows; in a larger bucket (typically boilerplate that thousands of rows share) each row is compared
with the first ``bucket_anchors`` rows and with its predecessor (rows ordered by node id), which keeps
the work linear in the bucket size while still linking every row that matches an anchor or a
neighbour.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field
from sftforge.operators import schema
from sftforge.operators.base import Stage, StageConfig, StageResult
from sftforge.operators.dedup.exact import dedup_texts
from sftforge.operators.dedup.minhash import (
    band_keys,
    estimated_jaccard,
    has_signature,
    lsh_bands,
    signatures,
)
from sftforge.operators.dedup.shingles import shingle_hashes
from sftforge.operators.dedup.survivor import (
    LOCATION,
    KeepRule,
    group_survivors,
    node_ids,
    node_view,
    rank_positions,
    rank_table,
    text_lengths,
    with_column,
)

STAGE_NAME = "dedup.near"

#: Pairs whose signatures are compared in one vectorised step (bounds memory on huge buckets).
_PAIRS_PER_STEP = 1 << 16


class MinHashConfig(StageConfig):
    """Near-duplicate detection parameters.

    Attributes:
        enabled: Run near-duplicate detection.
        threshold: Jaccard similarity of shingle sets above which two rows are duplicates.
        num_perm: MinHash permutations (signature length).
        ngram_size: Words per shingle for space-delimited text.
        cjk_char_ngrams: Shingle Chinese, Japanese and Korean as character n-grams.
        cjk_ngram_size: Characters per shingle for mostly-CJK rows.
        seed: Seed of the permutations. Changing it (or ``num_perm``, or the shingling) makes
            signatures incomparable with saved dedup indexes.
        check_jaccard: Keep only candidate pairs whose estimated Jaccard reaches ``threshold``
            (without it, sharing one LSH band is enough).
        false_negative_weight: Weight of missed pairs against spurious candidates when datasketch's
            routine picks bands x rows. The Jaccard check removes spurious candidates, so the default
            favours recall: 14 x 9 at 0.8 / 128 catches 87% of pairs at J = 0.8 and 97.5% at 0.85,
            where datasketch's default 0.5 (9 x 13) catches 40% and 69%. Use 0.5 without the check.
        key: For instruction pairs, ``all`` compares instruction + input + output; ``instruction``
            compares instruction + input only.
        bucket_pairs_limit: Buckets up to this size compare every pair.
        bucket_anchors: Anchors per row in larger buckets.
    """

    enabled: bool = True
    threshold: float = Field(0.8, gt=0.0, lt=1.0)
    num_perm: int = Field(128, ge=16, le=1024)
    ngram_size: int = Field(5, ge=1, le=32)
    cjk_char_ngrams: bool = True
    cjk_ngram_size: int = Field(5, ge=1, le=32)
    seed: int = Field(1, ge=0, lt=2**32)
    check_jaccard: bool = True
    false_negative_weight: float = Field(0.9, gt=0.0, lt=1.0)
    key: Literal["all", "instruction"] = "all"
    bucket_pairs_limit: int = Field(32, ge=2, le=1024)
    bucket_anchors: int = Field(8, ge=1, le=256)

    @property
    def bands(self) -> tuple[int, int]:
        """(bands, rows per band) from datasketch's optimal-parameter routine."""
        return lsh_bands(self.threshold, self.num_perm, self.false_negative_weight)

    def signature_parameters(self) -> dict[str, object]:
        """What must match for signatures to be comparable (saved with dedup indexes; band keys are
        recomputed from the signatures, so the threshold may change between runs)."""
        return {
            "num_perm": self.num_perm,
            "seed": self.seed,
            "ngram_size": self.ngram_size,
            "cjk_char_ngrams": self.cjk_char_ngrams,
            "cjk_ngram_size": self.cjk_ngram_size,
            "key": self.key,
            "scheme": "affine32",
        }


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


def connected_labels(num_rows: int, pairs: np.ndarray) -> np.ndarray:
    """Component label of each row given undirected edges (a row without edges is its own)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not len(pairs):
        return np.arange(num_rows, dtype=np.int64)
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(num_rows, num_rows)
    )
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


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


class MinHashDeduplicator(Stage[MinHashConfig]):
    """Clusters near-duplicate rows of one table and keeps one row per cluster.

    Adds ``cluster_id``: the surviving row's ``doc_id`` on every row of its cluster (a row without
    near duplicates is its own cluster).
    """

    name = STAGE_NAME
    requires = (schema.DOC_ID,)
    adds: ClassVar[dict[str, pa.DataType]] = {schema.CLUSTER_ID: schema.ADDED_TYPES[schema.CLUSTER_ID]}

    def __init__(self, config: MinHashConfig, keep: KeepRule = "highest_quality"):
        super().__init__(config)
        self.keep = keep

    def process(self, table: pa.Table) -> StageResult:
        texts = dedup_texts(table, self.config.key)
        signature_rows = text_signatures(texts, self.config)
        nodes = node_ids(table)
        node_array = node_view(nodes)
        keys, members = memberships(signature_rows, self.config)
        pairs = candidate_pairs(keys, members, node_array, self.config)
        pairs, _ = verify_pairs(signature_rows, pairs, self.config)
        labels = connected_labels(table.num_rows, pairs)
        ranks = rank_table(table, text_lengths(texts), nodes)
        survivors = group_survivors(labels, rank_positions(ranks, self.keep))
        similarity = estimated_jaccard(signature_rows, signature_rows[survivors])
        doc_ids = ranks.column(schema.DOC_ID).to_pylist()
        where = ranks.column(LOCATION).to_pylist()
        reasons = [
            None
            if survivor == row
            else near_reason(
                doc_ids[survivor], where[survivor], float(similarity[row]), self.config.threshold
            )
            for row, survivor in enumerate(survivors.tolist())
        ]
        cluster_ids = pa.array([doc_ids[survivor] for survivor in survivors.tolist()], type=pa.string())
        return self.partition(with_column(table, schema.CLUSTER_ID, cluster_ids), reasons)
