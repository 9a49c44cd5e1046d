"""Property tests (hypothesis): the invariants hold for random inputs, stage configs and block layouts."""

from __future__ import annotations

from itertools import pairwise

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sftforge.jobs.accounting import reconcile
from sftforge.jobs.runner import run_stage_on_batch
from sftforge.operators import schema
from sftforge.operators.clean.cleaner import CleanConfig, TextCleaner
from sftforge.operators.base import Stage, StageResult
from sftforge.operators.dedup.exact import STAGE_NAME as EXACT_STAGE
from sftforge.operators.read.records import content_id
from sftforge.operators.split.splitter import SplitConfig, Splitter
from tests.jobs.dedup.in_memory import dedup_table, exact_only

TEXTS = st.sampled_from([
    "The river runs to the sea.", "长江是中国最长的河流。", "Der Fluss fließt ins Meer.", "<p>&nbsp;</p>", "   ",
    "a", "Hello <b>world</b>!", "El río llega al mar.", "川は海へ流れる。",
])
#: Inputs: empty, duplicate-heavy (texts drawn from a few), mixed language.
ROWS = st.lists(TEXTS, max_size=40)
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _table(texts: list[str]) -> pa.Table:
    n = len(texts)
    columns = {
        schema.DOC_ID: [content_id("document", [f"{i}", t]) for i, t in enumerate(texts)],
        schema.KIND: ["document"] * n, schema.SOURCE_FILE: ["f.jsonl"] * n, schema.SOURCE_ROW: list(range(n)),
        schema.TEXT: texts,
    }
    return schema.conform(pa.table(columns), schema.BASE_SCHEMA)


class _BatchExactDedup(Stage):
    """Exact dedup within one batch, as a stage (the real passes, run in memory)."""

    name = EXACT_STAGE
    adds = {schema.CLUSTER_ID: pa.string()}

    def process(self, table: pa.Table) -> StageResult:
        kept, rejected = dedup_table(table, exact_only())
        return StageResult(kept=kept, rejected=rejected)


def _blocks(table: pa.Table, cuts: list[int]) -> list[pa.Table]:
    points = sorted({0, table.num_rows, *(min(c, table.num_rows) for c in cuts)})
    return [table.slice(a, b - a) for a, b in pairwise(points)]


@FAST
@given(ROWS, st.lists(st.integers(0, 40), max_size=5), st.booleans(), st.booleans())
def test_rows_in_equal_written_plus_rejected(texts, cuts, strip_html, dedup):
    stages = [TextCleaner(CleanConfig(html=strip_html))]
    if dedup:
        stages.append(_BatchExactDedup(None))
    stages.append(Splitter(SplitConfig(ratios={"train": 0.8, "test": 0.2})))
    out = []
    for block in _blocks(_table(texts), cuts):
        for stage in stages:
            block = run_stage_on_batch(stage, block)
        out.append(block)
    rows = [row for block in out for row in block.to_pylist()]
    rejected: dict[str, int] = {}
    for row in rows:
        if row[schema.REJECT_STAGE] is not None:
            rejected[row[schema.REJECT_STAGE]] = rejected.get(row[schema.REJECT_STAGE], 0) + 1
    written = sum(1 for row in rows if row[schema.REJECT_STAGE] is None)
    assert written + sum(rejected.values()) == len(texts)
    result = reconcile({"read": {"rows": len(texts)}}, ["read", *(s.name for s in stages)], written, rejected)
    assert result.stages[-1].kept == written


@FAST
@given(ROWS, st.lists(st.integers(0, 40), max_size=5), st.randoms(use_true_random=False))
def test_split_assignment_is_independent_of_blocks_and_order(texts, cuts, random):
    splitter = Splitter(SplitConfig(ratios={"train": 0.6, "validation": 0.2, "test": 0.2}))
    table = _table(texts)
    whole = dict(zip(table.column(schema.DOC_ID).to_pylist(), splitter(table).kept.column(schema.SPLIT).to_pylist()))
    blocks = _blocks(table, cuts)
    random.shuffle(blocks)
    for block in blocks:
        order = list(range(block.num_rows))
        random.shuffle(order)
        block = block.take(pa.array(order, type=pa.int64()))
        got = splitter(block).kept
        for doc_id, split in zip(got.column(schema.DOC_ID).to_pylist(), got.column(schema.SPLIT).to_pylist()):
            assert whole[doc_id] == split


@pytest.mark.ray
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(ROWS.filter(bool), st.integers(1, 4))
def test_dedup_decisions_are_independent_of_block_count(ray_session, texts, blocks):
    from sftforge.jobs.dedup.workflow import apply_dedup
    from sftforge.operators.dedup.config import DedupConfig

    table = _table(texts)
    config = DedupConfig()

    def decisions(num_blocks: int) -> dict[str, str | None]:
        ds = ray_session.data.from_arrow(table).repartition(num_blocks)
        blocks_out = ray_session.get(apply_dedup(ds, config).to_arrow_refs())
        out = pa.concat_tables([block for block in blocks_out if block.num_columns])  # empty blocks: no schema
        return dict(zip(out.column(schema.DOC_ID).to_pylist(), out.column(schema.REJECT_STAGE).to_pylist()))

    assert decisions(blocks) == decisions(1)
