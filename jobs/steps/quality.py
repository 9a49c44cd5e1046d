"""The quality steps: score with ``QualityScorer`` (``quality``), select for diversity (``select``).

The quality report needs every row scored, so the step materialises the Dataset once and summarises it
on the workers.
"""

from __future__ import annotations

import json

import pyarrow as pa
import ray
from sftforge.jobs.steps.base import RunContext, StageStep, Step, StepOutcome
from sftforge.jobs.steps.select import SELECT_STAGE, select_diverse
from sftforge.operators.quality.report import QualitySummary, summarize_quality
from sftforge.operators.quality.scorer import QualityScorer


def _summary_batch(batch: pa.Table) -> pa.Table:
    summary = summarize_quality(batch)
    return pa.table({"summary": [json.dumps(summary.to_dict(), ensure_ascii=False)]})


def collect_quality_report(ds) -> dict:
    """The quality report section of a (materialised) Dataset: rules, score histogram, diversity."""
    parts = ds.map_batches(_summary_batch, batch_format="pyarrow", batch_size=8192)
    summary = QualitySummary()
    for table in ray.get(parts.to_arrow_refs()):
        for text in table.column("summary").to_pylist():
            summary = summary.merge(QualitySummary.from_dict(json.loads(text)))
    return summary.section()


class QualityStep(StageStep):
    """Scores every row with the rules (and the classifier), rejects those that fail, reports."""

    key = "quality"
    stages = (QualityScorer.name,)
    stage_class = QualityScorer

    def run(self, ds, ctx: RunContext):
        ds = super().run(ds, ctx).materialize()
        self._outcome = StepOutcome(report=collect_quality_report(ds))
        return ds


class SelectStep(Step):
    """Keeps at most ``select.target_size`` instruction rows, spread over instruction clusters."""

    key = "select"
    stages = (SELECT_STAGE,)

    def run(self, ds, ctx: RunContext):
        section: dict = {}
        ds = select_diverse(ds, self.config, stats_actor=ctx.stats_actor, report=section)
        self._outcome = StepOutcome(report=section.get("select", {}))
        return ds
