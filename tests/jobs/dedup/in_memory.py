"""Dedup of one table in memory, through the functions each distributed pass runs per partition."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.jobs.dedup.decisions import apply_decisions
from sftforge.jobs.dedup.shuffle import view
from sftforge.jobs.dedup.workflow import decide
from sftforge.operators import schema
from sftforge.operators.dedup.config import DedupConfig
from sftforge.operators.dedup.keys import extract_keys
from sftforge.operators.dedup.survivor import NODE


def documents(texts: list[str | None], doc_ids: list[str] | None = None, **extra) -> pa.Table:
    """A batch of documents (``d0``, ``d1``, ... unless ``doc_ids`` is given), with ``extra`` columns."""
    doc_ids = doc_ids or [f"d{i}" for i in range(len(texts))]
    return pa.table(
        {
            schema.DOC_ID: doc_ids,
            schema.KIND: [schema.KIND_DOCUMENT] * len(texts),
            schema.TEXT: texts,
            **extra,
        }
    )


def dedup_table(table: pa.Table, config: DedupConfig) -> tuple[pa.Table, pa.Table]:
    """(kept, rejected) rows of ``table``, each with ``cluster_id``; rejected ones with stage and reason."""
    decisions = decide(extract_keys(table, config), config)
    order = np.argsort(view(decisions, NODE), kind="stable")
    decided = decisions.take(pa.array(order, type=pa.int64()))
    out = apply_decisions(table, view(decided, NODE), decided, stats_actor=None)
    rejected = pc.is_valid(out.column(schema.REJECT_STAGE))
    return out.filter(pc.invert(rejected)), out.filter(rejected)


def exact_only(**options) -> DedupConfig:
    """Exact dedup alone (``options`` go to ``dedup.exact``, ``keep`` to the keep rule)."""
    keep = options.pop("keep", "highest_quality")
    return DedupConfig(keep=keep, exact=options, near={"enabled": False})


def near_only(**options) -> DedupConfig:
    """Near dedup alone (``options`` go to ``dedup.near``, ``keep`` to the keep rule)."""
    keep = options.pop("keep", "highest_quality")
    return DedupConfig(keep=keep, exact={"enabled": False}, near=options)
