"""Dedup's counters are keyed by the work: a re-executed batch replaces its counts, it never adds them."""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
import pytest
from sftforge.jobs.dedup.decisions import apply_decisions, work_of
from sftforge.jobs.dedup.shuffle import view
from sftforge.jobs.dedup.workflow import decide
from sftforge.jobs.stats import start_stats_actor
from sftforge.operators import schema
from sftforge.operators.dedup.keys import extract_keys
from sftforge.operators.dedup.survivor import NODE

from tests.jobs.dedup.in_memory import documents, exact_only


def _batch(first_row: int) -> pa.Table:
    texts = ["the same words", "the same words", "other words entirely"]
    return documents(texts, source_file=["a.jsonl"] * 3, source_row=list(range(first_row, first_row + 3)))


def _decided(table: pa.Table) -> tuple[np.ndarray, pa.Table]:
    decisions = decide(extract_keys(table, exact_only()), exact_only())
    order = np.argsort(view(decisions, NODE), kind="stable")
    decided = decisions.take(pa.array(order, type=pa.int64()))
    return view(decided, NODE), decided


def test_the_key_is_the_live_rows_and_their_lineage():
    assert work_of(None) == work_of(None)
    nodes_a, _ = _decided(_batch(0))
    nodes_b, _ = _decided(_batch(3))  # the same content from other source rows: other work
    assert work_of(nodes_a) == work_of(nodes_a.copy()) and work_of(nodes_a) != work_of(nodes_b)


@pytest.mark.ray
def test_a_re_executed_batch_counts_once(ray_session):
    handle, name = start_stats_actor(uuid.uuid4().hex)
    try:
        first, later = _batch(0), _batch(3)
        for table in (first, first, later):  # the first batch runs twice, as a retried task would
            nodes, decided = _decided(table)
            out = apply_decisions(table, nodes, decided, stats_actor=name)
            assert out.column(schema.REJECT_STAGE).to_pylist().count("dedup.exact") == 1
        counts = ray_session.get(handle.snapshot.remote())
    finally:
        ray_session.kill(handle)
    assert counts["dedup.exact"] == {"in": 6, "kept": 4, "rejected": 2}
    assert counts["dedup.near"] == {"in": 4, "kept": 4, "rejected": 0}
