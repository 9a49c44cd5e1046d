"""The ``dedup`` section of a job config: one config shared by every pass.

``DedupConfig`` holds both algorithms' settings (``exact`` and ``near``) and the ones every pass shares
(the keep rule, shuffle sizing, earlier releases' indexes). Every function of a dedup pass, in
``operators/dedup`` and in ``jobs/dedup``, reads the part it needs from this one object, so the key
pass, the bucket pass, the clustering and the index agree on the parameters by construction.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator
from sftforge.operators.base import StageConfig
from sftforge.operators.dedup.minhash import lsh_bands
from sftforge.operators.dedup.survivor import KeepRule

INDEX_PARAMS = "params.json"
INDEX_ROWS = "rows"

#: What a row is compared on: instruction + input + output (``all``), or instruction + input only.
DedupKey = Literal["all", "instruction"]


class ExactDedupConfig(StageConfig):
    """How texts are compared for exact duplicates.

    Attributes:
        enabled: Run exact deduplication.
        ignore_case: Compare lower-cased text.
        ignore_punctuation: Read punctuation and symbols (Unicode P* and S*) as spaces.
        ignore_whitespace: Collapse runs of whitespace (Unicode separators included) to one space and trim
            the ends.
        ignore_digits: Treat every digit as ``0`` (dates, counters and ids then do not count).
        key: For instruction pairs, ``all`` compares instruction + input + output; ``instruction``
            compares instruction + input only (one answer per prompt).
    """

    enabled: bool = True
    ignore_case: bool = True
    ignore_punctuation: bool = True
    ignore_whitespace: bool = True
    ignore_digits: bool = False
    key: DedupKey = "all"


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
        false_negative_weight: Weight of missed pairs against spurious candidates when bands x rows are
            chosen (``lsh_bands``). The Jaccard check removes spurious candidates, so the default
            favours recall: 14 x 9 at 0.8 / 128 catches 87% of pairs at J = 0.8 and 97.5% at 0.85,
            where an even weighting (9 x 13) catches 40% and 69%. Use 0.5 without the check.
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
    key: DedupKey = "all"
    bucket_pairs_limit: int = Field(32, ge=2, le=1024)
    bucket_anchors: int = Field(8, ge=1, le=256)

    @property
    def bands(self) -> tuple[int, int]:
        """(bands, rows per band) that minimise the weighted false positives and negatives."""
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


class DedupConfig(StageConfig):
    """Exact and near-duplicate removal.

    Attributes:
        exact: Exact deduplication on normalised text (``enabled: false`` to skip).
        near: MinHash LSH near-deduplication (``enabled: false`` to skip).
        keep: Which row of a cluster survives: ``highest_quality`` (``quality_score`` when present, then
            the longest), ``longest``, or ``smallest_doc_id``; ties go to the smallest ``doc_id``.
        against: Dedup indexes of earlier releases (``<release>/dedup_index``); new rows that duplicate
            their rows are dropped. ``auto`` (alone or in the list): the index of the release ``LATEST``
            names in ``output.dir``, resolved when the job starts (see ``sftforge.jobs.refresh``).
        partition_bytes: Target size of one shuffle partition; bounds each worker's memory.
        broadcast_rows: Join the dropped rows' decisions back by broadcasting them to the map tasks when
            there are at most this many (no shuffle of the text); above it, a shuffle on the row id.
        single_task_rows: A step whose input is at most this many key rows (about 650 bytes each at
            128 permutations) runs as one task instead of a shuffle: the whole dedup of a small job,
            the clustering of few candidates, the resolution of few decisions. Results are the same
            either way; ``0`` always shuffles.
    """

    exact: ExactDedupConfig = ExactDedupConfig()
    near: MinHashConfig = MinHashConfig()
    keep: KeepRule = "highest_quality"
    against: list[str] = Field(default_factory=list)
    partition_bytes: int = Field(64 << 20, ge=1 << 16)
    broadcast_rows: int = Field(1_000_000, ge=0)
    single_task_rows: int = Field(100_000, ge=0)

    @field_validator("against", mode="before")
    @classmethod
    def _auto_is_a_list(cls, value):
        return [value] if value == "auto" else value

    @field_validator("against")
    @classmethod
    def _indexes_exist(cls, paths: list[str]) -> list[str]:
        for position, path in enumerate(paths):
            if path == "auto":
                continue
            if "://" in path and not path.startswith("file://"):
                continue  # remote indexes are checked when the job opens them
            local = path.removeprefix("file://")
            if not os.path.isfile(os.path.join(local, INDEX_PARAMS)):
                raise ValueError(f"against[{position}]: '{path}' is not a dedup index (no {INDEX_PARAMS})")
        return paths
