"""The LLM side of a run: the service around it, the judge step, and the ledger in report and manifest.

``run_job`` calls ``start_llm`` before the steps (for ``llm.backend: local`` this starts the embedded
llama.cpp server), keeps the service open until the release is written (Ray Data is lazy: the LLM calls
happen while the writer pulls rows), calls ``finish_llm`` after writing, and ``stop_llm`` in its
``finally``. Steps find the service as ``ctx.llm``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from operators import schema
from operators.llm import LLMService
from operators.llm_judge import LLMJudge, judge_report_section, score_histogram

log = logging.getLogger("sftforge")

REPORT_SECTION = "llm"
JUDGE_SECTION = "judge"
#: Release folder of the calls the engine could not answer, one subfolder per stage.
DEAD_LETTER_FOLDER = "llm_dead_letter"


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
    Writes the judge's score histogram to the run report under ``judge``, and the calls it could not
    use (reason, detail, raw reply) to the release under ``llm_dead_letter/llm_judge/``.
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
    # Materialise once so that the histogram and the dead letters do not call the endpoint again.
    ds = ds.materialize()
    totals: dict[str, int] = {}
    for table in _collect(ds.map_batches(_overall_counts, batch_format="pyarrow", batch_size=8192)):
        for score, rows in zip(table.column("score").to_pylist(), table.column("rows").to_pylist()):
            totals[score] = totals.get(score, 0) + rows
    dead = write_dead_letters(ds, Path(ctx.staging_dir) / DEAD_LETTER_FOLDER / LLMJudge.name)
    ctx.report[JUDGE_SECTION] = {
        "threshold": judge.threshold, "score": judge.score, "histogram": totals, "dead_letters": dead,
    }
    return ds.drop_columns([schema.LLM_DEAD_LETTER])


DEAD_LETTER_SCHEMA = pa.schema(
    [
        (schema.DOC_ID, pa.string()),
        (schema.REJECT_REASON, pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw", pa.string()),
        ("template", pa.string()),
        ("model", pa.string()),
        ("attempts", pa.int64()),
    ]
)


def _dead_letter_rows(batch: pa.Table) -> pa.Table:
    if batch.num_rows == 0 or schema.LLM_DEAD_LETTER not in batch.column_names:
        return DEAD_LETTER_SCHEMA.empty_table()
    batch = batch.filter(pc.is_valid(batch.column(schema.LLM_DEAD_LETTER)))
    letters = [json.loads(text) for text in batch.column(schema.LLM_DEAD_LETTER).to_pylist()]
    columns = {
        schema.DOC_ID: batch.column(schema.DOC_ID).to_pylist(),
        schema.REJECT_REASON: batch.column(schema.REJECT_REASON).to_pylist(),
    }
    for field in DEAD_LETTER_SCHEMA.names[2:]:
        columns[field] = [letter.get(field) for letter in letters]
    return pa.table(columns, schema=DEAD_LETTER_SCHEMA)


def write_dead_letters(ds, folder: Path) -> int:
    """Streams the rows with an ``llm_dead_letter`` into ``folder/part-00000.parquet``; returns how many.

    Nothing is written when there are none.
    """
    writer = None
    count = 0
    try:
        dead = ds.map_batches(_dead_letter_rows, batch_format="pyarrow", batch_size=8192)
        for batch in dead.iter_batches(batch_format="pyarrow", batch_size=8192):
            if batch.num_rows == 0:
                continue
            if writer is None:
                folder.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(folder / "part-00000.parquet", DEAD_LETTER_SCHEMA)
            writer.write_table(batch.cast(DEAD_LETTER_SCHEMA))
            count += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    return count


def _collect(ds) -> list[pa.Table]:
    import ray

    return ray.get(ds.to_arrow_refs())
