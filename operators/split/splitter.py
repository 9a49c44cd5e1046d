"""Deterministic train / validation / test assignment by hashing, so a row's split never depends on the run.

A row's split is a function of the seed, the ratios and one key of the row, nothing else: not the batch
it arrives in, not the number of workers, not the rows around it. The key is the row's ``cluster_id``
when deduplication set one, so that near-duplicates always land in the same split and never leak from
train into test; else its ``parent_id`` (rows generated from a source row follow their parent); else
its own ``doc_id``. A dedup survivor whose ``cluster_id`` is its own ``doc_id`` therefore lands where it
would have without dedup.
"""

from __future__ import annotations

import hashlib
import math
import re
from itertools import accumulate
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator
from sftforge.operators import schema
from sftforge.operators.base import Stage, StageConfig, StageResult, with_reasons

_SPLIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
#: Names that the release layout uses for its own folders, so no split may take them.
RESERVED_SPLIT_NAMES = frozenset({"documents", "rejects"})
_TOLERANCE = 1e-9


class SplitConfig(StageConfig):
    """Split ratios.

    Attributes:
        ratios: Split name -> fraction of rows, in the order the splits are cut from [0, 1). Names are
            folder names in the release (a letter, then letters, digits, ``_`` or ``-``); the fractions
            sum to 1.
        seed: Mixed into every hash; changing it reshuffles every row's split.
    """

    ratios: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.9, "validation": 0.05, "test": 0.05}, min_length=1
    )
    seed: str = "sftforge"

    @field_validator("ratios")
    @classmethod
    def _names_and_fractions_are_valid(cls, ratios: dict[str, float]) -> dict[str, float]:
        for name, ratio in ratios.items():
            if not _SPLIT_NAME.match(name) or name.lower() in RESERVED_SPLIT_NAMES:
                raise ValueError(
                    f"split name '{name}' must start with a letter, use only letters, digits, '_' and '-', "
                    f"and not be one of {sorted(RESERVED_SPLIT_NAMES)}"
                )
            if not math.isfinite(ratio) or not 0.0 <= ratio <= 1.0:
                raise ValueError(f"split.ratios.{name} is {ratio}, outside [0, 1]")
        return ratios

    @model_validator(mode="after")
    def _ratios_sum_to_one(self) -> SplitConfig:
        total = math.fsum(self.ratios.values())
        if abs(total - 1.0) > _TOLERANCE:
            shown = ", ".join(f"{name}={ratio:g}" for name, ratio in self.ratios.items())
            raise ValueError(f"split.ratios must sum to 1, but {shown} sum to {total:.12g}")
        return self


def unit_interval_position(seed: str, key: str) -> float:
    """Maps ``key`` to a float in [0, 1) that depends only on ``seed`` and ``key``."""
    digest = hashlib.blake2b(f"{seed}\x00{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    # The top 53 bits fill a double's mantissa exactly, so the result is uniform and never reaches 1.0.
    return (int.from_bytes(digest, "big") >> 11) * 2.0**-53


class Splitter(Stage[SplitConfig]):
    """Assigns every row to a split from a hash of its cluster, parent or own id. Never rejects a row."""

    name = "split"
    requires = (schema.DOC_ID,)
    adds: ClassVar[dict[str, pa.DataType]] = {schema.SPLIT: schema.ADDED_TYPES[schema.SPLIT]}

    def __init__(self, config: SplitConfig):
        super().__init__(config)
        self._names = list(config.ratios)
        self._upper_bounds = list(accumulate(config.ratios.values()))
        # Rounding can leave the last bound a hair under 1; positions past it go to the last non-empty split.
        self._fallback = max(i for i, ratio in enumerate(config.ratios.values()) if ratio > 0)

    def split_of(self, key: str) -> str:
        """The split a row with this key belongs to."""
        position = unit_interval_position(self.config.seed, key)
        for name, upper, ratio in zip(self._names, self._upper_bounds, self.config.ratios.values()):
            if position < upper and ratio > 0:
                return name
        return self._names[self._fallback]

    def positions(self, keys: pa.Array) -> np.ndarray:
        """``unit_interval_position`` of every key of a string array, computed for the whole array."""
        prefix = f"{self.config.seed}\x00".encode("utf-8", "surrogatepass")
        blake2b = hashlib.blake2b
        # Arrow strings are valid UTF-8, so their bytes are the keys' encoding.
        digests = b"".join([blake2b(prefix + key, digest_size=8).digest() for key in keys.cast(pa.binary()).to_pylist()])
        return (np.frombuffer(digests, dtype=">u8") >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def split_indexes(self, keys: pa.Array) -> np.ndarray:
        """The index (in ``ratios``) of the split of every key: what ``split_of`` says, for the whole array."""
        position = self.positions(keys)
        chosen = np.full(len(position), self._fallback, dtype=np.int64)
        ratios = list(self.config.ratios.values())
        # The first split whose bound lies above the position wins, so later splits are assigned first.
        for index in reversed(range(len(ratios))):
            if ratios[index] > 0:
                chosen[position < self._upper_bounds[index]] = index
        return chosen

    def process(self, table: pa.Table) -> StageResult:
        keys = split_keys(table)
        splits = pa.array(self._names, pa.string()).take(pa.array(self.split_indexes(keys)))
        if schema.SPLIT in table.column_names:
            table = table.set_column(table.column_names.index(schema.SPLIT), schema.SPLIT, splits)
        else:
            table = table.append_column(pa.field(schema.SPLIT, pa.string()), splits)
        return StageResult(kept=table, rejected=with_reasons(table.slice(0, 0), []))


def split_keys(table: pa.Table) -> pa.Array:
    """Per row, the first non-null of ``cluster_id``, ``parent_id`` and ``doc_id`` (a string array)."""
    key = table.column(schema.DOC_ID)
    for column in (schema.PARENT_ID, schema.CLUSTER_ID):
        if column in table.column_names:
            values = table.column(column)
            key = pc.if_else(pc.is_null(values), key, values.cast(pa.string()))
    if key.null_count:
        raise ValueError(f"{key.null_count} rows have no doc_id; the split needs an id on every row")
    key = key.combine_chunks() if isinstance(key, pa.ChunkedArray) else key
    return key.cast(pa.string())
