"""Decisions (one row per dropped row) and how they are joined back to the job's Dataset.

A decision names the dropped row (node id), the stage, the reason and the cluster (the kept row's
``doc_id``). Kept rows need none: their ``cluster_id`` is their own ``doc_id``.
"""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.jobs.dedup.shuffle import broadcast_table, cogroup, conform, num_partitions, sorted_lookup, view
from sftforge.jobs.stats import record, work_key
from sftforge.operators import schema
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.dedup.exact import STAGE_NAME as EXACT_STAGE
from sftforge.operators.dedup.hashing import fixed_binary_view
from sftforge.operators.dedup.near import STAGE_NAME as NEAR_STAGE
from sftforge.operators.dedup.survivor import NODE, node_ids

STAGE = "_dedup_stage"
REASON = "_dedup_reason"
CLUSTER = "_dedup_cluster"
SIMILARITY = "_dedup_similarity"
KEPT_EARLIER = "_dedup_kept_in_earlier_release"

DECISION_SCHEMA = pa.schema(
    [
        (NODE, pa.binary(16)),
        (STAGE, pa.string()),
        (REASON, pa.string()),
        (CLUSTER, pa.string()),
        (SIMILARITY, pa.float64()),
        (KEPT_EARLIER, pa.bool_()),
    ]
)


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    """The job's schema after dedup: the input's, plus the rejection columns and ``cluster_id``."""
    fields = list(input_schema)
    for name in (schema.REJECT_STAGE, schema.REJECT_REASON, schema.CLUSTER_ID):
        if name not in input_schema.names:
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


def apply_decisions(
    batch: pa.Table, sorted_nodes: np.ndarray, decisions: pa.Table, stats_actor: str | None
) -> pa.Table:
    """Marks the batch's live rows: decided rows rejected, every live row given its ``cluster_id``.

    ``decisions`` is sorted by node id, ``sorted_nodes`` its node ids. Reports the batch's counts of
    both stages to the run's counters, keyed by the batch's live rows (``work_of``): a re-executed task
    sees the same rows and replaces its counts instead of adding them.
    """
    batch = conform(batch, output_schema(batch.schema))
    live = np.flatnonzero(pc.is_null(batch.column(schema.REJECT_STAGE)).to_numpy(zero_copy_only=False))
    stages = batch.column(schema.REJECT_STAGE).to_pylist()
    reasons = batch.column(schema.REJECT_REASON).to_pylist()
    clusters = batch.column(schema.CLUSTER_ID).to_pylist()
    doc_ids = batch.column(schema.DOC_ID).to_pylist()
    live_nodes = fixed_binary_view(node_ids(batch.take(pa.array(live, type=pa.int64())))) if len(live) else None
    key = work_of(live_nodes)
    exact_rejected = near_rejected = 0
    if len(live):
        at = sorted_lookup(sorted_nodes, live_nodes)
        decided_stage = decisions.column(STAGE).to_pylist()
        decided_reason = decisions.column(REASON).to_pylist()
        decided_cluster = decisions.column(CLUSTER).to_pylist()
        for row, position in zip(live.tolist(), at.tolist()):
            if position < 0:
                clusters[row] = doc_ids[row]
                continue
            stages[row] = decided_stage[position]
            reasons[row] = decided_reason[position]
            clusters[row] = decided_cluster[position]
            if stages[row] == EXACT_STAGE:
                exact_rejected += 1
            else:
                near_rejected += 1
    record(
        EXACT_STAGE,
        {"in": len(live), "kept": len(live) - exact_rejected, "rejected": exact_rejected},
        stats_actor,
        key=key,
    )
    after_exact = len(live) - exact_rejected
    record(
        NEAR_STAGE,
        {"in": after_exact, "kept": after_exact - near_rejected, "rejected": near_rejected},
        stats_actor,
        key=key,
    )
    for name, values in (
        (schema.REJECT_STAGE, stages),
        (schema.REJECT_REASON, reasons),
        (schema.CLUSTER_ID, clusters),
    ):
        batch = batch.set_column(batch.column_names.index(name), name, pa.array(values, type=pa.string()))
    return batch


def work_of(live_nodes: np.ndarray | None) -> str:
    """Identity of one batch's dedup work: the node ids (``doc_id`` and lineage) of its live rows, in order.

    Two different batches share it only if they hold the very same rows from the very same places.
    """
    return work_key("dedup", b"" if live_nodes is None else live_nodes.tobytes())


def _apply_broadcast(batch: pa.Table, token: str, refs: list, stats_actor: str | None) -> pa.Table:
    nodes, decisions = broadcast_table(token, refs, NODE, DECISION_SCHEMA)
    return apply_decisions(batch, nodes, decisions, stats_actor)


def _with_node(batch: pa.Table) -> pa.Table:
    live = (
        batch.filter(pc.is_null(batch.column(schema.REJECT_STAGE)))
        if schema.REJECT_STAGE in batch.column_names
        else batch
    )
    return live.append_column(NODE, node_ids(live) if live.num_rows else pa.array([], type=pa.binary(16)))


def _dead_rows(batch: pa.Table, target: pa.Schema) -> pa.Table:
    if schema.REJECT_STAGE not in batch.column_names:
        return target.empty_table()
    return conform(batch.filter(pc.is_valid(batch.column(schema.REJECT_STAGE))), target)


def _join_partition(rows: pa.Table, decisions: pa.Table, row_schema: pa.Schema, stats_actor: str | None):
    nodes = view(decisions, NODE)
    order = np.argsort(nodes, kind="stable")
    out = apply_decisions(
        rows.drop_columns([NODE]), nodes[order], decisions.take(pa.array(order, type=pa.int64())), stats_actor
    )
    return conform(out, output_schema(row_schema))


def attach_decisions(ds, decisions, num_decisions: int, config: DedupConfig, stats_actor: str | None):
    """The job's Dataset with the decisions applied.

    At most ``config.broadcast_rows`` decisions: each map task reads them all (once per worker) and the
    rows stay where they are. More: rows and decisions are co-grouped on the node id.
    """
    if decisions is None or num_decisions <= config.broadcast_rows:
        refs = decisions.to_arrow_refs() if decisions is not None else []
        return ds.map_batches(
            _apply_broadcast,
            fn_kwargs={"token": uuid.uuid4().hex, "refs": refs, "stats_actor": stats_actor},
            batch_format="pyarrow",
        )
    row_schema = ds.schema().base_schema
    target = output_schema(row_schema)
    dead = ds.map_batches(_dead_rows, fn_kwargs={"target": target}, batch_format="pyarrow")
    live_schema = pa.schema(list(row_schema) + [pa.field(NODE, pa.binary(16))])
    partitions = num_partitions(ds.count(), 2048, config.partition_bytes)
    joined = cogroup(
        ds.map_batches(_with_node, batch_format="pyarrow"),
        decisions,
        NODE,
        NODE,
        live_schema,
        DECISION_SCHEMA,
        partitions,
        _join_partition,
        row_schema=row_schema,
        stats_actor=stats_actor,
    )
    return joined.union(dead)
