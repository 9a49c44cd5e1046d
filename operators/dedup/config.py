"""The ``dedup`` section of a job config."""

from __future__ import annotations

import os

from pydantic import Field, field_validator
from sftforge.operators.base import StageConfig
from sftforge.operators.dedup.exact import ExactDedupConfig
from sftforge.operators.dedup.near import MinHashConfig
from sftforge.operators.dedup.survivor import KeepRule

INDEX_PARAMS = "params.json"
INDEX_ROWS = "rows"


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
