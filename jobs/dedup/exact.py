"""Step 2: exact duplicates, grouped by a shuffle on the normalised-text hash."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.jobs.dedup.decisions import CLUSTER, DECISION_SCHEMA, KEPT_EARLIER, REASON, SIMILARITY, STAGE
from sftforge.jobs.dedup.shuffle import conform, lookup, shuffle, view
from sftforge.operators import schema
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.dedup.exact import STAGE_NAME as EXACT_STAGE
from sftforge.operators.dedup.exact import exact_reason
from sftforge.operators.dedup.keys import EXACT_HASH, keys_schema
from sftforge.operators.dedup.survivor import (
    INDEX_SOURCE,
    LOCATION,
    NODE,
    PINNED,
    group_survivors,
    rank_positions,
)

EXACT_OF = "_dedup_exact_of"
EXACT_DECISION_SCHEMA = pa.schema(list(DECISION_SCHEMA) + [pa.field(EXACT_OF, pa.binary(16))])


def exact_out_schema(config: DedupConfig) -> pa.Schema:
    """Key rows, plus for a dropped row its survivor's node id (``EXACT_OF``) and its decision."""
    return pa.schema(
        list(keys_schema(config))
        + [
            pa.field(EXACT_OF, pa.binary(16)),
            pa.field(REASON, pa.string()),
            pa.field(CLUSTER, pa.string()),
            pa.field(KEPT_EARLIER, pa.bool_()),
        ]
    )


def exact_partition(rows: pa.Table, config: DedupConfig) -> pa.Table:
    """Marks every row whose normalised-text hash a better row of the partition shares."""
    survivors = group_survivors(view(rows, EXACT_HASH), rank_positions(rows, config.keep))
    dropped = survivors != np.arange(rows.num_rows)
    pinned = rows.column(PINNED).to_numpy(zero_copy_only=False)
    reasons: list[str | None] = [None] * rows.num_rows
    clusters: list[str | None] = [None] * rows.num_rows
    doc_ids, where, sources = rows.column(schema.DOC_ID), rows.column(LOCATION), rows.column(INDEX_SOURCE)
    for row in np.flatnonzero(dropped & ~pinned).tolist():
        survivor = int(survivors[row])
        clusters[row] = doc_ids[survivor].as_py()
        reasons[row] = exact_reason(clusters[row], where[survivor].as_py(), sources[survivor].as_py())
    exact_of = pc.if_else(
        pa.array(dropped), rows.column(NODE).take(pa.array(survivors)), pa.nulls(rows.num_rows, pa.binary(16))
    )
    out = (
        rows.append_column(EXACT_OF, exact_of)
        .append_column(REASON, pa.array(reasons, type=pa.string()))
        .append_column(CLUSTER, pa.array(clusters, type=pa.string()))
        .append_column(KEPT_EARLIER, pa.array(dropped & pinned[survivors]))
    )
    # A duplicate between two earlier releases concerns nobody now.
    return conform(out.filter(pa.array(~(dropped & pinned))), exact_out_schema(config))


def exact_groups(keys, partitions: int, config: DedupConfig):
    """Key rows with the exact-dedup outcome (see ``exact_out_schema``)."""
    return shuffle(keys, EXACT_HASH, partitions, exact_partition, config=config)


def survivors_of(batch: pa.Table, config: DedupConfig) -> pa.Table:
    """Key rows that exact dedup kept."""
    return batch.filter(pc.is_null(batch.column(EXACT_OF))).select(keys_schema(config).names)


def exact_decisions(batch: pa.Table) -> pa.Table:
    """Decision rows of the rows exact dedup dropped (with the node of the row each duplicates)."""
    rows = batch.filter(pc.is_valid(batch.column(EXACT_OF)))
    return pa.Table.from_arrays(
        [
            rows.column(NODE),
            pa.array([EXACT_STAGE] * rows.num_rows, type=pa.string()),
            rows.column(REASON),
            rows.column(CLUSTER),
            pa.array(np.ones(rows.num_rows)),
            rows.column(KEPT_EARLIER),
            rows.column(EXACT_OF),
        ],
        schema=EXACT_DECISION_SCHEMA,
    )


def resolve_exact(exact: pa.Table, near: pa.Table) -> pa.Table:
    """Exact duplicates of a row that near dedup then removed point at the row that was kept."""
    at = lookup(view(near, NODE), view(exact, EXACT_OF))
    reasons = exact.column(REASON).to_pylist()
    clusters = exact.column(CLUSTER).to_pylist()
    earlier = exact.column(KEPT_EARLIER).to_pylist()
    near_reasons = near.column(REASON).to_pylist()
    near_clusters = near.column(CLUSTER).to_pylist()
    near_earlier = near.column(KEPT_EARLIER).to_pylist()
    for row, position in enumerate(at.tolist()):
        if position >= 0:
            # The row it duplicates was not kept after all: name the one that was.
            duplicate_of = reasons[row].replace("of kept doc_id", "of doc_id", 1)
            reasons[row] = f"{duplicate_of}; that row was removed in turn as a {near_reasons[position]}"
            clusters[row] = near_clusters[position]
            earlier[row] = near_earlier[position]
    return pa.Table.from_arrays(
        [
            exact.column(NODE),
            exact.column(STAGE),
            pa.array(reasons, type=pa.string()),
            pa.array(clusters, type=pa.string()),
            exact.column(SIMILARITY),
            pa.array(earlier, type=pa.bool_()),
        ],
        schema=DECISION_SCHEMA,
    )
