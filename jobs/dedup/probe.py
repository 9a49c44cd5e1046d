"""Which rows of an earlier release's index can matter to this run's rows.

A row of an index (``dedup.against``) can only be decided against together with a new row: pairs of two
index rows are skipped (both were published). So only the index rows that share an exact hash or a
MinHash band bucket with a new row are needed, and every group and bucket that holds a new row keeps all
its members, so the decisions are the same as with the whole index. A nightly refresh that adds 5% of
rows then decides on those rows and their few look-alikes, not on every row published so far.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.dedup.keys import EXACT_HASH, SIGNATURE, signature_rows
from sftforge.operators.dedup.near import memberships


@dataclass(frozen=True)
class Probe:
    """The new rows' exact hashes and band bucket keys (sorted, unique)."""

    exact: pa.Array | None
    buckets: np.ndarray | None


def probe_part(keys: pa.Table, config: DedupConfig) -> pa.Table:
    """One row: a block of new key rows' unique exact hashes and band bucket keys (run in the workers)."""
    exact = pc.unique(keys.column(EXACT_HASH)) if config.exact.enabled else pa.array([], pa.binary(16))
    buckets = np.zeros(0, dtype=np.uint64)
    if config.near.enabled and keys.num_rows:
        buckets = np.unique(memberships(signature_rows(keys.column(SIGNATURE), config.near.num_perm),
                                        config.near)[0]).astype(np.uint64)
    return pa.table({"exact": pa.array([exact.to_pylist()], pa.list_(pa.binary(16))),
                     "buckets": pa.array([buckets], pa.list_(pa.uint64()))})


def build_probe(parts: list[pa.Table], config: DedupConfig) -> Probe:
    """The probe from the ``probe_part`` rows of every block of new key rows."""
    exact = buckets = None
    tables = [table for table in parts if table.num_rows]
    if config.exact.enabled:
        hashes = [pc.list_flatten(table.column("exact")) for table in tables]
        exact = pc.unique(pa.chunked_array(hashes, pa.binary(16))) if hashes else pa.array([], pa.binary(16))
    if config.near.enabled:
        found = [pc.list_flatten(table.column("buckets")).to_numpy() for table in tables]
        buckets = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.uint64)
    return Probe(exact, buckets)


def matching_rows(batch: pa.Table, probe: Probe, config: DedupConfig) -> pa.Table:
    """The rows of an index batch that share an exact hash or a band bucket with a new row."""
    keep = np.zeros(batch.num_rows, dtype=bool)
    if probe.exact is not None and len(probe.exact) and config.exact.enabled:
        keep |= pc.fill_null(pc.is_in(batch.column(EXACT_HASH), value_set=probe.exact), False).to_numpy(
            zero_copy_only=False)
    if probe.buckets is not None and len(probe.buckets) and config.near.enabled:
        keys, members = memberships(signature_rows(batch.column(SIGNATURE), config.near.num_perm), config.near)
        at = np.searchsorted(probe.buckets, keys).clip(0, len(probe.buckets) - 1)
        keep[members[probe.buckets[at] == keys]] = True
    return batch.filter(pa.array(keep))
