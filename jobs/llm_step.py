"""The LLM side of a run: the service around it, the judge step, and the ledger in report and manifest.

``run_job`` calls ``start_llm`` before the steps (for ``llm.backend: local`` this starts the embedded
llama.cpp server), keeps the service open until the release is written (Ray Data is lazy: the LLM calls
happen while the writer pulls rows), calls ``finish_llm`` after writing, and ``stop_llm`` in its
``finally``. Steps find the service as ``ctx.llm``.
"""

from __future__ import annotations

import logging

import pyarrow as pa
import pyarrow.compute as pc

from operators import schema
from operators.llm import LLMService
from operators.llm_judge import LLMJudge, judge_report_section, score_histogram

log = logging.getLogger("sftforge")

REPORT_SECTION = "llm"
JUDGE_SECTION = "judge"


def start_llm(config, run_id: str) -> LLMService | None:
    """Starts the run's LLM service when the job has an ``llm`` key (None otherwise).

    An unavailable local model is not an error: the service says so in one line and LLM steps skip.
    """
    llm_config = getattr(config, "llm", None)
    if llm_config is None:
        return None
    service = LLMService(llm_config, run_id=run_id).start()
    if not service.available:
        log.warning(service.skip_reason)
    return service


def stop_llm(service: LLMService | None) -> None:
    """Stops the coordinator and the embedded model; safe to call twice or with None."""
    if service is not None:
        service.stop()


def finish_llm(service: LLMService | None, ctx) -> None:
    """Puts the ledger and cache totals into the manifest (``llm``) and the run report (``llm``)."""
    if service is None:
        return
    section = service.report()
    ctx.manifest[REPORT_SECTION] = section
    judge = ctx.report.get(JUDGE_SECTION) or {}
    ctx.report[REPORT_SECTION] = judge_report_section(section)
    if "histogram" in judge:
        ctx.report[REPORT_SECTION]["judge"] = {"threshold": judge.get("threshold"), "histogram": judge["histogram"]}


def _overall_counts(batch: pa.Table) -> pa.Table:
    """Histogram of ``judge_overall`` over the instruction rows the judge saw (kept or rejected by it)."""
    if batch.num_rows == 0 or schema.JUDGE_OVERALL not in batch.column_names:
        return pa.table({"score": pa.array([], pa.string()), "rows": pa.array([], pa.int64())})
    if schema.REJECT_STAGE not in batch.column_names:
        batch = batch.append_column(schema.REJECT_STAGE, pa.nulls(batch.num_rows, pa.string()))
    stage = batch.column(schema.REJECT_STAGE)
    seen = pc.or_kleene(pc.is_null(stage), pc.equal(stage, LLMJudge.name))
    seen = pc.and_kleene(seen, pc.equal(batch.column(schema.KIND), schema.KIND_INSTRUCTION))
    judged = batch.filter(pc.fill_null(seen, False))
    counts = score_histogram(judged.column(schema.JUDGE_OVERALL).to_pylist())
    return pa.table({"score": pa.array(list(counts), pa.string()), "rows": pa.array(list(counts.values()), pa.int64())})


def judge_step(ds, ctx):
    """Scores instruction pairs with the LLM judge and keeps those at or above ``judge.threshold``.

    Runs after quality, so that the endpoint is paid only for rows that survived the cheap filters.
    Writes the judge's score histogram to the run report under ``judge``.
    """
    judge = getattr(ctx.config, "judge", None)
    if judge is None:
        return ds
    service: LLMService | None = getattr(ctx, "llm", None)
    if service is None or not service.available:
        line = service.skip_reason if service is not None else "judge skipped: no 'llm' endpoint is configured"
        log.warning(line)
        ctx.report[JUDGE_SECTION] = {"skipped": line}
        return ds
    ds = ctx.apply(ds, LLMJudge(judge, service.config))
    # Materialise once so that the histogram does not call the endpoint a second time.
    ds = ds.materialize()
    totals: dict[str, int] = {}
    for table in _collect(ds.map_batches(_overall_counts, batch_format="pyarrow", batch_size=8192)):
        for score, rows in zip(table.column("score").to_pylist(), table.column("rows").to_pylist()):
            totals[score] = totals.get(score, 0) + rows
    ctx.report[JUDGE_SECTION] = {"threshold": judge.threshold, "score": judge.score, "histogram": totals}
    return ds


def _collect(ds) -> list[pa.Table]:
    import ray

    return ray.get(ds.to_arrow_refs())
