"""The LLM side of a run: the service around it, its dead letters, and the ledger in report and manifest.

``run_job`` calls ``start_llm`` before the steps (for ``llm.backend: local`` this starts the embedded
llama.cpp server), keeps the service open until the release is written (Ray Data is lazy: the LLM calls
happen while the writer pulls rows), calls ``finish_llm`` after writing, and ``stop_llm`` in its
``finally``. Steps find the service as ``ctx.llm``; the judge step is ``sftforge.jobs.steps.judge``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sftforge.jobs.progress import LLMProgress, say
from sftforge.jobs.steps.base import StepOutcome
from sftforge.operators import schema
from sftforge.operators.judge.judge import judge_report_section
from sftforge.operators.llm_client import EndpointOutage, LLMService
from sftforge.operators.llm_client.preflight import preflight

log = logging.getLogger("sftforge")

REPORT_SECTION = "llm"


def preflight_llm(config) -> None:
    """Checks the job's LLM endpoints before Ray starts (no-op without ``llm`` or for the local model).

    Raises:
        sftforge.operators.llm_client.preflight.EndpointUnavailable: unreachable, 401/403, unknown model.
    """
    llm_config = getattr(config, "llm", None)
    if llm_config is not None:
        preflight(llm_config)


def check_outage(service: LLMService, stage: str, unprocessed: Mapping[str, int], total: int) -> None:
    """Fails the run when too many of a stage's calls failed for endpoint reasons (``llm.on_failure``).

    Args:
        service: The run's LLM service.
        stage: The stage name (``judge``).
        unprocessed: Rows passed on unprocessed, by endpoint reason (counted once, after materialising).
        total: Rows the stage processed or tried to.

    Raises:
        EndpointOutage: With ``on_failure: fail``, when more than ``max_failure_rate`` of ``total`` failed;
            its detail names a dead local server and its log's last lines.
    """
    failed = sum(unprocessed.values())
    if not failed:
        return
    config = service.config
    reason = max(unprocessed, key=lambda name: unprocessed[name])
    if config.on_failure == "fail" and failed > config.max_failure_rate * total:
        raise EndpointOutage(stage, failed, total, reason, service.problem())
    log.warning("%s: %d of %d rows passed on unprocessed (endpoint: %s), flagged in column %s",
                stage, failed, total, reason, schema.LLM_UNPROCESSED)


def start_llm(config, run_id: str) -> LLMService | None:
    """Starts the run's LLM service when the job has an ``llm`` key (None otherwise).

    An unavailable local model is not an error: the service says so in one line and LLM steps skip.
    """
    llm_config = getattr(config, "llm", None)
    if llm_config is None:
        return None
    if llm_config.backend == "local":
        say("starting the local model (llama.cpp, %s)", llm_config.model)
    service = LLMService(llm_config, run_id=run_id).start()
    if not service.available:
        log.warning(service.skip_reason)
    else:
        service.progress = LLMProgress(service.ledger).start()
    return service


def stop_llm(service: LLMService | None) -> None:
    """Stops the coordinator and the embedded model; safe to call twice or with None."""
    if service is not None:
        progress = getattr(service, "progress", None)
        if progress is not None:
            progress.stop()
            progress.tick()  # the final counts
            service.progress = None
        service.stop()


def finish_llm(service: LLMService | None, judge: Mapping[str, Any] | None = None) -> StepOutcome:
    """The ledger and cache totals, for the manifest (``llm``) and the run report (``llm``).

    Args:
        service: The run's service (None when the job has no ``llm``).
        judge: The judge step's report section, whose histogram the LLM section repeats.
    """
    if service is None:
        return StepOutcome()
    section = service.report()
    report = judge_report_section(section)
    if judge and "histogram" in judge:
        report["judge"] = {"threshold": judge.get("threshold"), "histogram": judge["histogram"]}
    return StepOutcome(report=report, manifest={REPORT_SECTION: section})


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
