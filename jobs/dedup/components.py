"""Connected components of a distributed edge list: every node labelled with its component's smallest node.

Distributed: alternating large-star and small-star rounds (Kiveris, Lattanzi, Mirrokni, Rastogi and
Vassilvitskii, "Connected Components in MapReduce and Beyond", SoCC 2014), each a shuffle of the edge
list on one endpoint, until a round changes no edge. The edge list is then one star per component
around its smallest node. No worker ever holds more than one partition of the edges, and the labels do
not depend on partitioning. O(log^2 n) rounds in the worst case; two or three on dedup graphs.

In memory (``label_components``): when the edge list is small enough for one worker, the same rounds
run on one table, without the shuffles' scheduling overhead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pyarrow as pa
from sftforge.jobs.dedup.shuffle import column_total, select, shuffle, view
from sftforge.operators.dedup.hashing import fixed_binary_array

log = logging.getLogger("sftforge.dedup")

SRC = "_dedup_src"
DST = "_dedup_dst"
NODE = "_dedup_node"
ROOT = "_dedup_root"
_CHANGED = "_dedup_changed"
_MAX_ROUNDS = 64

EDGE_SCHEMA = pa.schema([(SRC, pa.binary(16)), (DST, pa.binary(16))])
_STEP_SCHEMA = pa.schema([(SRC, pa.binary(16)), (DST, pa.binary(16)), (_CHANGED, pa.int64())])
COMPONENT_SCHEMA = pa.schema([(NODE, pa.binary(16)), (ROOT, pa.binary(16))])


def edges_table(sources: np.ndarray, targets: np.ndarray, changed: np.ndarray | None = None) -> pa.Table:
    """Edges from ``S16`` node arrays."""
    columns = [fixed_binary_array(sources), fixed_binary_array(targets)]
    if changed is None:
        return pa.Table.from_arrays(columns, schema=EDGE_SCHEMA)
    return pa.Table.from_arrays(columns + [pa.array(changed, type=pa.int64())], schema=_STEP_SCHEMA)


def _both_directions(batch: pa.Table) -> pa.Table:
    backward = pa.Table.from_arrays([batch.column(DST), batch.column(SRC)], schema=EDGE_SCHEMA)
    return pa.concat_tables([batch.select([SRC, DST]), backward])


def _sorted_unique(rows: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct edges sorted by (source, target), the first edge of each source, and group numbers."""
    sources, targets = view(rows, SRC), view(rows, DST)
    order = np.lexsort((targets, sources))
    sources, targets = sources[order], targets[order]
    distinct = np.ones(len(sources), dtype=bool)
    distinct[1:] = (sources[1:] != sources[:-1]) | (targets[1:] != targets[:-1])
    sources, targets = sources[distinct], targets[distinct]
    first = np.ones(len(sources), dtype=bool)
    first[1:] = sources[1:] != sources[:-1]
    return sources, targets, first, np.cumsum(first) - 1


def large_star(rows: pa.Table) -> pa.Table:
    """For each node u (``SRC``) with neighbours N(u): connect each larger neighbour to min(N(u) + u)."""
    u, v, first, group = _sorted_unique(rows)
    smallest = v[first][group]
    m = np.where(smallest < u, smallest, u)
    larger = v > u
    return edges_table(v[larger], m[larger], (m[larger] != u[larger]).astype(np.int64))


def small_star(rows: pa.Table) -> pa.Table:
    """For each node u (``SRC``, the larger end) with smaller neighbours N(u): connect N(u) + u to min N(u)."""
    u, v, first, group = _sorted_unique(rows)
    m = v[first][group]
    others = v != m
    sources = np.concatenate([v[others], u[first]])
    targets = np.concatenate([m[others], m[first]])
    changed = np.concatenate([np.ones(int(others.sum()), np.int64), np.zeros(int(first.sum()), np.int64)])
    return edges_table(sources, targets, changed)


def _component_rows(batch: pa.Table) -> pa.Table:
    members = pa.Table.from_arrays([batch.column(SRC), batch.column(DST)], schema=COMPONENT_SCHEMA)
    roots = pa.Table.from_arrays([batch.column(DST), batch.column(DST)], schema=COMPONENT_SCHEMA)
    return pa.concat_tables([members, roots])


def _rounds(edges, star_round: Callable, where: str):
    """Runs ``star_round(edges) -> (edges, changed)`` until a round changes no edge."""
    for round_number in range(1, _MAX_ROUNDS + 1):
        edges, changed = star_round(edges)
        log.info("dedup: components round %d %s: %d edges changed", round_number, where, changed)
        if not changed:
            return edges
    raise RuntimeError(f"connected components did not converge in {_MAX_ROUNDS} rounds")


def _distributed_round(edges, partitions: int):
    large = shuffle(
        edges.map_batches(_both_directions, batch_format="pyarrow"), SRC, partitions, large_star
    ).materialize()
    small = shuffle(
        large.map_batches(select, fn_kwargs={"columns": [SRC, DST]}, batch_format="pyarrow"),
        SRC,
        partitions,
        small_star,
    ).materialize()
    changed = column_total(large, _CHANGED) + column_total(small, _CHANGED)
    return small.map_batches(select, fn_kwargs={"columns": [SRC, DST]}, batch_format="pyarrow"), changed


def _memory_round(edges: pa.Table) -> tuple[pa.Table, int]:
    large = large_star(_both_directions(edges))
    small = small_star(large.select([SRC, DST]))
    changed = _changed(large) + _changed(small)
    return small.select([SRC, DST]), changed


def _changed(table: pa.Table) -> int:
    return int(np.sum(table.column(_CHANGED).to_numpy()))


def distributed_components(edges, partitions: int):
    """Component labels by large-star / small-star rounds; ``edges`` holds ``SRC > DST`` pairs.

    Returns:
        A Dataset of (node, root) rows covering every node of ``edges``; a root may appear more than once.
    """
    stars = _rounds(edges, lambda current: _distributed_round(current, partitions), "(distributed)")
    return stars.map_batches(_component_rows, batch_format="pyarrow")


def label_components(edges: pa.Table) -> pa.Table:
    """In memory: (node, root) for every node of ``edges`` (an ``EDGE_SCHEMA`` table), root = smallest
    node of its component (a root may appear more than once), by the same rounds on one table."""
    if not edges.num_rows:
        return COMPONENT_SCHEMA.empty_table()
    return _component_rows(_rounds(edges.select([SRC, DST]), _memory_round, "(one task)"))
