"""Steps 3-6: band buckets, checked candidate pairs, clusters and their survivors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from jobs.dedup.components import (
    COMPONENT_SCHEMA,
    DST,
    ROOT,
    SRC,
    distributed_components,
    edges_table,
    label_components,
)
from jobs.dedup.config import DedupConfig
from jobs.dedup.decisions import DECISION_SCHEMA
from jobs.dedup.keys import HAS_SIGNATURE, SIGNATURE, keys_schema, signature_rows, signature_type
from jobs.dedup.shuffle import cogroup, lookup, num_partitions, select, shuffle, view
from operators import schema
from operators.minhash import band_keys, estimated_jaccard
from operators.minhash_dedup import STAGE_NAME as NEAR_STAGE
from operators.minhash_dedup import candidate_pairs, connected_labels, near_reason, verify_pairs
from operators.survivor import (
    INDEX_SOURCE,
    LOCATION,
    NODE,
    PINNED,
    RANK_SCHEMA,
    group_survivors,
    rank_positions,
)

BUCKET = "_dedup_bucket"
MEMBER_SCHEMA = pa.schema([(BUCKET, pa.uint64()), (NODE, pa.binary(16))])


def candidate_schema(config: DedupConfig) -> pa.Schema:
    """Rank fields and signature of a row (what clustering needs)."""
    return pa.schema(list(RANK_SCHEMA) + [pa.field(SIGNATURE, signature_type(config))])


def _bucket_candidate_schema(config: DedupConfig) -> pa.Schema:
    return pa.schema([pa.field(BUCKET, pa.uint64())] + list(candidate_schema(config)))


def _clustered_schema(config: DedupConfig) -> pa.Schema:
    return pa.schema([pa.field(ROOT, pa.binary(16))] + list(candidate_schema(config)))


def _band_rows(batch: pa.Table, config: DedupConfig) -> pa.Table:
    rows = batch.filter(batch.column(HAS_SIGNATURE))
    bands, per_band = config.near.bands
    keys = band_keys(signature_rows(rows.column(SIGNATURE), config.near.num_perm), bands, per_band)
    members = pa.array(np.repeat(np.arange(rows.num_rows), bands))
    return pa.Table.from_arrays(
        [
            pa.array(keys.ravel(), type=pa.uint64()),
            rows.column(NODE).take(members),
            rows.column(PINNED).take(members),
        ],
        names=[BUCKET, NODE, PINNED],
    )


def _shared_buckets(rows: pa.Table) -> pa.Table:
    """Memberships of the buckets that hold two or more rows, at least one of them new."""
    keys = rows.column(BUCKET).to_numpy()
    new = ~rows.column(PINNED).to_numpy(zero_copy_only=False)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    group = np.cumsum(first) - 1
    shared = (np.bincount(group)[group] >= 2) & (np.bincount(group, weights=new[order])[group] > 0)
    chosen = pa.array(order[shared])
    return pa.Table.from_arrays(
        [rows.column(BUCKET).take(chosen), rows.column(NODE).take(chosen)], schema=MEMBER_SCHEMA
    )


def _attach_candidates(members: pa.Table, keys: pa.Table, config: DedupConfig) -> pa.Table:
    at = lookup(view(keys, NODE), view(members, NODE))
    found = at >= 0
    picked = keys.take(pa.array(at[found]))
    target = _bucket_candidate_schema(config)
    columns = [members.column(BUCKET).filter(pa.array(found))] + [
        picked.column(name) for name in target.names[1:]
    ]
    return pa.Table.from_arrays(columns, schema=target)


def _checked_edges(rows: pa.Table, config: DedupConfig) -> pa.Table:
    """The partition's buckets' candidate pairs, checked, as star edges: each row of a partition-local
    component points at the component's smallest node (``SRC > DST``)."""
    nodes = view(rows, NODE)
    unique, first, member = np.unique(nodes, return_index=True, return_inverse=True)
    signatures = signature_rows(rows.column(SIGNATURE), config.near.num_perm)[first]
    pinned = rows.column(PINNED).to_numpy(zero_copy_only=False)[first]
    pairs = candidate_pairs(rows.column(BUCKET).to_numpy(), member.ravel(), unique, config.near, pinned)
    pairs, _ = verify_pairs(signatures, pairs, config.near)
    labels = connected_labels(len(unique), pairs)
    # unique is sorted, so a component's smallest index is its smallest node.
    smallest = np.full(len(unique), len(unique), dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(len(unique)))
    root = smallest[labels]
    linked = np.flatnonzero(root != np.arange(len(unique)))
    return edges_table(unique[linked], unique[root[linked]])


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
        for d, s in zip(dropped.tolist(), kept.tolist())
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


def cluster_decisions(survivors: pa.Table, config: DedupConfig) -> pa.Table:
    """Steps 3-6 on one table in memory: the same functions the distributed path runs per partition."""
    members = _shared_buckets(_band_rows(survivors, config))
    columns = candidate_schema(config).names
    candidates = _attach_candidates(members, survivors.select(columns), config)
    edges = _checked_edges(candidates, config)
    return _decide_clusters(edges, candidates.select(columns), config)


def _decide_clusters(edges: pa.Table, candidates: pa.Table, config: DedupConfig) -> pa.Table:
    if not edges.num_rows:
        return DECISION_SCHEMA.empty_table()
    labelled = label_components(view(edges, SRC), view(edges, DST))
    return _choose_survivors(_attach_root(labelled, candidates, config), config)


def _decide_clusters_in_one_task(edge_refs: list, candidate_refs: list, config: DedupConfig) -> pa.Table:
    import ray

    edges = [table for table in ray.get(list(edge_refs)) if table.num_rows]
    candidates = [table for table in ray.get(list(candidate_refs)) if table.num_rows]
    if not edges:
        return DECISION_SCHEMA.empty_table()
    columns = candidate_schema(config).names
    return _decide_clusters(pa.concat_tables(edges), pa.concat_tables(candidates).select(columns), config)


def near_decisions(survivors, total_rows: int, config: DedupConfig, lap=lambda step: None):
    """Decisions of near dedup over the exact survivors' key rows, by shuffles (``None`` when nothing is
    dropped). Clusters are formed in one task when the candidate rows number at most
    ``config.single_task_rows``, else by distributed connected components.

    ``lap(step)`` is called after each step (for timings).
    """
    import ray
    import ray.data

    bands, _ = config.near.bands
    partitions = num_partitions(total_rows, 4 * config.near.num_perm + 120, config.partition_bytes)
    band_partitions = num_partitions(total_rows * bands, 40, config.partition_bytes)
    band_rows = survivors.map_batches(_band_rows, fn_kwargs={"config": config}, batch_format="pyarrow")
    members = shuffle(band_rows, BUCKET, band_partitions, _shared_buckets).materialize()
    lap("near.buckets")
    if not members.count():
        return None
    columns = candidate_schema(config).names
    key_schema = pa.schema([field for field in keys_schema(config) if field.name in columns])
    key_rows = survivors.map_batches(select, fn_kwargs={"columns": columns}, batch_format="pyarrow")
    candidates = cogroup(
        members,
        key_rows,
        NODE,
        NODE,
        MEMBER_SCHEMA,
        key_schema,
        partitions,
        _attach_candidates,
        config=config,
    ).materialize()
    lap("near.candidates")
    edges = shuffle(candidates, BUCKET, partitions, _checked_edges, config=config).materialize()
    lap("near.edges")
    num_edges = edges.count()
    if not num_edges:
        return None
    if candidates.count() <= config.single_task_rows:
        task = ray.remote(num_cpus=1)(_decide_clusters_in_one_task)
        ref = task.remote(edges.to_arrow_refs(), candidates.to_arrow_refs(), config)
        decisions = ray.data.from_arrow_refs([ref]).materialize()
    else:
        labelled = distributed_components(edges, partitions)
        candidate_rows = candidates.map_batches(
            select, fn_kwargs={"columns": columns}, batch_format="pyarrow"
        )
        clustered = cogroup(
            labelled,
            candidate_rows,
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
