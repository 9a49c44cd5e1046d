"""The pipeline step for quality: score with ``QualityScorer``, optionally select for diversity, report.

``quality_step(ds, ctx)`` is what ``jobs.pipeline.STEPS`` runs after deduplication. It reads
``ctx.config.quality`` (``QualityConfig``) and ``ctx.config.select`` (``SelectConfig``); either may be
``None``. The report section needs every row scored, so the step materialises the Dataset once (the
selection needs that anyway) and summarises it on the workers.
"""

from __future__ import annotations

import json

import pyarrow as pa

from jobs.select import SELECT_STAGE, select_diverse
from operators.quality import QualityScorer
from operators.quality_report import QualitySummary, summarize_quality

REPORT_SECTION = "quality"


def _summary_batch(batch: pa.Table) -> pa.Table:
    summary = summarize_quality(batch)
    return pa.table({"summary": [json.dumps(summary.to_dict(), ensure_ascii=False)]})


def collect_quality_report(ds) -> dict:
    """The quality report section of a (materialised) Dataset: rules, score histogram, diversity."""
    import ray

    parts = ds.map_batches(_summary_batch, batch_format="pyarrow", batch_size=8192)
    summary = QualitySummary()
    for table in ray.get(parts.to_arrow_refs()):
        for text in table.column("summary").to_pylist():
            summary = summary.merge(QualitySummary.from_dict(json.loads(text)))
    return summary.section()


def quality_step(ds, ctx):
    """Scores rows, selects a diverse subset when ``select`` is configured, and writes the report section."""
    quality = getattr(ctx.config, "quality", None)
    select = getattr(ctx.config, "select", None)
    if quality is not None:
        ds = ctx.apply(ds, QualityScorer(quality))
    if select is not None:
        ctx.stage_order.append(SELECT_STAGE)
        ds = select_diverse(ds, select, stats_actor=ctx.stats_actor, report=ctx.report.setdefault(REPORT_SECTION, {}))
    if quality is not None:
        ds = ds.materialize()
        ctx.report.setdefault(REPORT_SECTION, {}).update(collect_quality_report(ds))
    return ds
