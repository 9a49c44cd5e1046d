"""Steps 3-6: band buckets, checked candidate pairs, clusters and their survivors."""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
import ray
from sftforge.jobs.dedup.components import (
    COMPONENT_SCHEMA,
    ROOT,
    distributed_components,
    edges_table,
    label_components,
)
from sftforge.jobs.dedup.decisions import DECISION_SCHEMA
from sftforge.jobs.dedup.shuffle import (
    broadcast_value,
    cogroup,
    lookup,
    num_partitions,
    one_task,
    select,
    shuffle,
    sorted_lookup,
    view,
)
from sftforge.operators import schema
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.dedup.hashing import fixed_binary_array
from sftforge.operators.dedup.keys import SIGNATURE, keys_schema, signature_rows, signature_type
from sftforge.operators.dedup.minhash import estimated_jaccard
from sftforge.operators.dedup.near import STAGE_NAME as NEAR_STAGE
from sftforge.operators.dedup.near import candidate_pairs, memberships, near_reason, verify_pairs
from sftforge.operators.dedup.survivor import (
    INDEX_SOURCE,
    LOCATION,
    NODE,
    PINNED,
    RANK_SCHEMA,
    group_survivors,
    rank_positions,
)

BUCKET = "_dedup_bucket"
PAIR_A = "_dedup_pair_a"
PAIR_B = "_dedup_pair_b"
#: Candidate pairs, ``PAIR_A < PAIR_B`` in node order.
PAIR_SCHEMA = pa.schema([(PAIR_A, pa.binary(16)), (PAIR_B, pa.binary(16))])


def candidate_schema(config: DedupConfig) -> pa.Schema:
    """Rank fields and signature of a row (what checking pairs and choosing survivors need)."""
    return pa.schema(list(RANK_SCHEMA) + [pa.field(SIGNATURE, signature_type(config))])


def _half_checked_schema(config: DedupConfig) -> pa.Schema:
    return pa.schema(list(PAIR_SCHEMA) + [pa.field(SIGNATURE, signature_type(config))])


def _clustered_schema(config: DedupConfig) -> pa.Schema:
    return pa.schema([pa.field(ROOT, pa.binary(16))] + list(candidate_schema(config)))


def _band_rows(batch: pa.Table, config: DedupConfig) -> pa.Table:
    """One row per (row, band) of the rows that have a signature: the bucket key, the node, pinned."""
    keys, members = memberships(signature_rows(batch.column(SIGNATURE), config.near.num_perm), config.near)
    members = pa.array(members, type=pa.int64())
    return pa.Table.from_arrays(
        [
            pa.array(keys, type=pa.uint64()),
            batch.column(NODE).take(members),
            batch.column(PINNED).take(members),
        ],
        names=[BUCKET, NODE, PINNED],
    )


def _bucket_pairs(rows: pa.Table, config: DedupConfig) -> pa.Table:
    """Candidate pairs of the buckets in ``rows`` (whole buckets), by ``candidate_pairs``'s rule."""
    nodes, first, member = np.unique(view(rows, NODE), return_index=True, return_inverse=True)
    pinned = rows.column(PINNED).to_numpy(zero_copy_only=False)[first]
    pairs = candidate_pairs(rows.column(BUCKET).to_numpy(), member.ravel(), nodes, config.near, pinned)
    return pa.Table.from_arrays(
        [fixed_binary_array(nodes[pairs[:, 0]]), fixed_binary_array(nodes[pairs[:, 1]])], schema=PAIR_SCHEMA
    )


def _pair_nodes(pairs: pa.Table) -> np.ndarray:
    return np.unique(np.concatenate([view(pairs, PAIR_A), view(pairs, PAIR_B)]))


def _pick_candidates(keys: pa.Table, token: str, refs: list, config: DedupConfig) -> pa.Table:
    """Key rows of the nodes that some candidate pair names (the pairs broadcast to every task)."""

    def build(tables: list[pa.Table]) -> np.ndarray:
        return _pair_nodes(pa.concat_tables(tables)) if tables else np.zeros(0, dtype="S16")

    wanted = broadcast_value(token, refs, build)
    picked = sorted_lookup(wanted, view(keys, NODE)) >= 0
    return keys.filter(pa.array(picked)).select(candidate_schema(config).names)


def _cogroup_candidates(nodes: pa.Table, keys: pa.Table, config: DedupConfig) -> pa.Table:
    wanted = np.unique(view(nodes, NODE))
    return keys.filter(pa.array(sorted_lookup(wanted, view(keys, NODE)) >= 0)).select(
        candidate_schema(config).names
    )


def _as_nodes(pairs: pa.Table) -> pa.Table:
    return pa.table(
        {
            NODE: pa.concat_arrays(
                [pairs.column(PAIR_A).combine_chunks(), pairs.column(PAIR_B).combine_chunks()]
            )
        }
    )


def _attach_first_signature(pairs: pa.Table, candidates: pa.Table, config: DedupConfig) -> pa.Table:
    a, b = view(pairs, PAIR_A), view(pairs, PAIR_B)
    order = np.lexsort((b, a))
    distinct = np.ones(len(order), dtype=bool)
    distinct[1:] = (a[order][1:] != a[order][:-1]) | (b[order][1:] != b[order][:-1])
    unique = pairs.take(pa.array(order[distinct]))
    at = lookup(view(candidates, NODE), view(unique, PAIR_A))
    return pa.Table.from_arrays(
        [unique.column(PAIR_A), unique.column(PAIR_B), candidates.column(SIGNATURE).take(pa.array(at))],
        schema=_half_checked_schema(config),
    )


def _check_pairs(pairs: pa.Table, candidates: pa.Table, config: DedupConfig) -> pa.Table:
    """Edges (``SRC > DST``) of the pairs whose estimated Jaccard reaches the threshold."""
    at = lookup(view(candidates, NODE), view(pairs, PAIR_B))
    first = signature_rows(pairs.column(SIGNATURE), config.near.num_perm)
    second = signature_rows(candidates.column(SIGNATURE), config.near.num_perm)[at]
    keep = np.ones(pairs.num_rows, dtype=bool)
    if config.near.check_jaccard:
        keep = estimated_jaccard(first, second) >= config.near.threshold
    return edges_table(view(pairs, PAIR_B)[keep], view(pairs, PAIR_A)[keep])


def cluster_decisions(survivors: pa.Table, config: DedupConfig) -> pa.Table:
    """Steps 3-6 on one table in memory (the exact survivors' key rows), with the functions the
    distributed path runs per partition: buckets -> checked pairs -> components -> survivors."""
    signatures = signature_rows(survivors.column(SIGNATURE), config.near.num_perm)
    nodes = view(survivors, NODE)
    pinned = survivors.column(PINNED).to_numpy(zero_copy_only=False)
    pairs = candidate_pairs(*memberships(signatures, config.near), nodes, config.near, pinned)
    pairs, _ = verify_pairs(signatures, pairs, config.near)
    candidates = survivors.select(candidate_schema(config).names)
    return _decide_from_edges(nodes[pairs[:, 1]], nodes[pairs[:, 0]], candidates, config)


def _decide_in_one_task(pair_refs: list, candidate_refs: list, config: DedupConfig) -> pa.Table:
    """Steps 5-6 in one task, from the candidate pairs and their rows' key rows."""
    pairs = [table for table in ray.get(list(pair_refs)) if table.num_rows]
    if not pairs:
        return DECISION_SCHEMA.empty_table()
    pairs = pa.concat_tables(pairs)
    candidates = pa.concat_tables([table for table in ray.get(list(candidate_refs)) if table.num_rows])
    order = np.argsort(view(candidates, NODE), kind="stable")
    candidates = candidates.take(pa.array(order))
    nodes = view(candidates, NODE)
    signatures = signature_rows(candidates.column(SIGNATURE), config.near.num_perm)
    index_pairs = np.stack(
        [sorted_lookup(nodes, view(pairs, PAIR_A)), sorted_lookup(nodes, view(pairs, PAIR_B))], axis=1
    )
    index_pairs, _ = verify_pairs(signatures, index_pairs, config.near)
    return _decide_from_edges(nodes[index_pairs[:, 1]], nodes[index_pairs[:, 0]], candidates, config)


def _decide_from_edges(
    sources: np.ndarray, targets: np.ndarray, candidates: pa.Table, config: DedupConfig
) -> pa.Table:
    """Checked edges -> clusters -> survivors, in memory (candidates: key rows of the edges' nodes)."""
    if not len(sources):
        return DECISION_SCHEMA.empty_table()
    labelled = label_components(edges_table(sources, targets))
    return _choose_survivors(_attach_root(labelled, candidates, config), config)


def _attach_root(members: pa.Table, candidates: pa.Table, config: DedupConfig) -> pa.Table:
    unique, first = np.unique(view(members, NODE), return_index=True)
    at = lookup(view(candidates, NODE), unique)
    if (at < 0).any():
        raise RuntimeError("dedup: a clustered row has no key row (internal error)")
    picked = candidates.take(pa.array(at))
    target = _clustered_schema(config)
    columns = [members.column(ROOT).take(pa.array(first))] + [
        picked.column(name) for name in target.names[1:]
    ]
    return pa.Table.from_arrays(columns, schema=target)


def _choose_survivors(rows: pa.Table, config: DedupConfig) -> pa.Table:
    """Decisions for the rows of each cluster but its best one (rows of earlier releases never get one)."""
    survivors = group_survivors(view(rows, ROOT), rank_positions(rows, config.keep))
    signatures = signature_rows(rows.column(SIGNATURE), config.near.num_perm)
    similarity = estimated_jaccard(signatures, signatures[survivors])
    pinned = rows.column(PINNED).to_numpy(zero_copy_only=False)
    dropped = np.flatnonzero((survivors != np.arange(rows.num_rows)) & ~pinned)
    kept = survivors[dropped]
    doc_ids, where, sources = (
        rows.column(name).to_pylist() for name in (schema.DOC_ID, LOCATION, INDEX_SOURCE)
    )
    reasons = [
        near_reason(doc_ids[s], where[s], float(similarity[d]), config.near.threshold, sources[s])
        for d, s in zip(dropped.tolist(), kept.tolist(), strict=True)
    ]
    return pa.Table.from_arrays(
        [
            rows.column(NODE).take(pa.array(dropped, type=pa.int64())),
            pa.array([NEAR_STAGE] * len(dropped), type=pa.string()),
            pa.array(reasons, type=pa.string()),
            pa.array([doc_ids[s] for s in kept.tolist()], type=pa.string()),
            pa.array(similarity[dropped], type=pa.float64()),
            pa.array(pinned[kept], type=pa.bool_()),
        ],
        schema=DECISION_SCHEMA,
    )


def near_decisions(survivors, total_rows: int, config: DedupConfig, lap=lambda step: None):
    """Decisions of near dedup over the exact survivors' key rows, by shuffles (``None`` when nothing is
    dropped). Steps on few rows (at most ``config.single_task_rows``) run as one task.

    1. band rows shuffled on the bucket key -> candidate pairs (node ids only);
    2. the pairs' nodes' key rows (signatures), picked from the survivors by broadcasting the pairs
       (or co-grouping them when there are many);
    3. pairs checked by estimated Jaccard: co-grouped on one end to attach its signature, then on the
       other to compare;
    4. connected components of the checked edges, survivors per component.

    ``lap(step)`` is called after each step (for timings).
    """
    bands, _ = config.near.bands
    partitions = num_partitions(total_rows, 4 * config.near.num_perm + 120, config.partition_bytes)
    band_partitions = num_partitions(total_rows * bands, 40, config.partition_bytes)
    band_rows = survivors.map_batches(_band_rows, fn_kwargs={"config": config}, batch_format="pyarrow")
    pairs = shuffle(band_rows, BUCKET, band_partitions, _bucket_pairs, config=config).materialize()
    num_pairs = pairs.count()
    lap("near.pairs")
    if not num_pairs:
        return None
    columns = candidate_schema(config).names
    key_schema = pa.schema([field for field in keys_schema(config) if field.name in columns])
    if num_pairs <= config.broadcast_rows:
        candidates = survivors.map_batches(
            _pick_candidates,
            fn_kwargs={"token": uuid.uuid4().hex, "refs": pairs.to_arrow_refs(), "config": config},
            batch_format="pyarrow",
        ).materialize()
    else:
        nodes = pairs.map_batches(_as_nodes, batch_format="pyarrow")
        candidates = cogroup(
            nodes,
            survivors.map_batches(select, fn_kwargs={"columns": columns}, batch_format="pyarrow"),
            NODE,
            NODE,
            pa.schema([(NODE, pa.binary(16))]),
            key_schema,
            partitions,
            _cogroup_candidates,
            config=config,
        ).materialize()
    lap("near.candidates")
    if num_pairs <= config.single_task_rows and candidates.count() <= config.single_task_rows:
        decisions = one_task(
            _decide_in_one_task, pairs.to_arrow_refs(), candidates.to_arrow_refs(), config
        ).materialize()
        lap("near.clusters")
        return decisions
    half = cogroup(
        pairs,
        candidates,
        PAIR_A,
        NODE,
        PAIR_SCHEMA,
        key_schema,
        partitions,
        _attach_first_signature,
        config=config,
    )
    edges = cogroup(
        half,
        candidates,
        PAIR_B,
        NODE,
        _half_checked_schema(config),
        key_schema,
        partitions,
        _check_pairs,
        config=config,
    ).materialize()
    num_edges = edges.count()
    lap("near.edges")
    if not num_edges:
        return None
    if num_edges <= config.single_task_rows:
        labelled = one_task(_label_in_one_task, edges.to_arrow_refs())
    else:
        labelled = distributed_components(edges, partitions)
    clustered = cogroup(
        labelled,
        candidates,
        NODE,
        NODE,
        COMPONENT_SCHEMA,
        key_schema,
        partitions,
        _attach_root,
        config=config,
    )
    decisions = shuffle(clustered, ROOT, partitions, _choose_survivors, config=config).materialize()
    lap("near.clusters")
    return decisions


def _label_in_one_task(edge_refs: list) -> pa.Table:
    tables = [table for table in ray.get(list(edge_refs)) if table.num_rows]
    return label_components(pa.concat_tables(tables)) if tables else COMPONENT_SCHEMA.empty_table()
