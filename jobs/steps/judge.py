"""The judge step: scores instruction pairs with the LLM judge and keeps those at or above the threshold.

Runs after quality, so that the endpoint is paid only for rows that survived the cheap filters. Reports
the score histogram under ``judge`` and publishes the calls it could not use (reason, detail, raw reply)
under ``dead_letter/judge/``.

Calls that failed for an endpoint reason are no verdict on their rows: those rows pass on with
``llm_unprocessed`` set, and once the stage is done (materialised, so a retried Ray task is counted once)
the step compares their share with ``llm.max_failure_rate``. Beyond it, with ``llm.on_failure: fail``,
the step raises ``EndpointOutage`` and nothing is published.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
from sftforge.jobs.progress import rate, say
from sftforge.jobs.steps.base import RunContext, Step, StepOutcome
from sftforge.jobs.steps.llm import check_outage, write_dead_letters
from sftforge.operators import schema
from sftforge.operators.judge.judge import LLMJudge, score_histogram

log = logging.getLogger("sftforge")

_UNPROCESSED = "unprocessed:"


def _to_judge(batch: pa.Table) -> pa.Table:
    """How many rows of ``batch`` the judge will call the model for: live instruction rows."""
    live = schema.live_rows(batch)
    rows = pc.sum(pc.equal(live.column(schema.KIND), schema.KIND_INSTRUCTION)).as_py() if live.num_rows else 0
    return pa.table({"rows": pa.array([rows or 0], pa.int64())})


def _overall_counts(batch: pa.Table) -> pa.Table:
    """Histogram of ``judge_overall`` over the instruction rows the judge saw (kept or rejected by it),
    plus ``unprocessed:<reason>`` for the rows it could not judge because the endpoint failed."""
    if batch.num_rows == 0 or schema.JUDGE_OVERALL not in batch.column_names:
        return pa.table({"score": pa.array([], pa.string()), "rows": pa.array([], pa.int64())})
    if schema.REJECT_STAGE not in batch.column_names:
        batch = batch.append_column(schema.REJECT_STAGE, pa.nulls(batch.num_rows, pa.string()))
    stage = batch.column(schema.REJECT_STAGE)
    seen = pc.or_kleene(pc.is_null(stage), pc.equal(stage, LLMJudge.name))
    seen = pc.and_kleene(seen, pc.equal(batch.column(schema.KIND), schema.KIND_INSTRUCTION))
    judged = batch.filter(pc.fill_null(seen, False))
    flags = (judged.column(schema.LLM_UNPROCESSED).to_pylist() if schema.LLM_UNPROCESSED in judged.column_names
             else [None] * judged.num_rows)
    prefix = LLMJudge.name + ":"
    unjudged = [flag for flag in flags if flag and flag.startswith(prefix)]
    scores = [score for score, flag in zip(judged.column(schema.JUDGE_OVERALL).to_pylist(), flags, strict=True)
              if not (flag and flag.startswith(prefix))]
    counts: dict[str, int] = dict(score_histogram(scores))
    for flag, rows in Counter(unjudged).items():
        counts[_UNPROCESSED + flag.removeprefix(prefix)] = rows
    return pa.table({"score": pa.array(list(counts), pa.string()), "rows": pa.array(list(counts.values()), pa.int64())})


class JudgeStep(Step):
    """The LLM judge (Harmless / Honest / Helpful) in an actor pool; skipped without an endpoint."""

    key = "judge"
    stages = (LLMJudge.name,)

    def run(self, ds, ctx: RunContext):
        import ray

        service = ctx.llm
        if service is None or not service.available:
            line = service.skip_reason if service is not None else "judge skipped: no 'llm' endpoint is configured"
            log.warning(line)
            self._outcome = StepOutcome(report={"skipped": line})
            return ds
        # The stage's input is materialised so that the live line can say how many calls are left; an
        # LLM-bound stage loses nothing by not overlapping with the cheap stages before it.
        ds = ds.materialize()
        counts = ds.map_batches(_to_judge, batch_format="pyarrow", batch_size=8192)
        # An empty block skips the function and comes back as it was, without the "rows" column.
        planned = sum(sum(table.column("rows").to_pylist()) for table in ray.get(counts.to_arrow_refs())
                      if "rows" in table.column_names)
        if service.progress is not None:
            service.progress.expect(LLMJudge.name, planned)
        say("judge: scoring %d instruction pairs with %s", planned, service.config.model)
        ds = ctx.apply(ds, LLMJudge(self.config, service.config))
        started = time.monotonic()
        # Materialise once so that the histogram and the dead letters do not call the endpoint again.
        ds = ds.materialize()
        totals: dict[str, int] = {}
        counts = ds.map_batches(_overall_counts, batch_format="pyarrow", batch_size=8192)
        for table in ray.get(counts.to_arrow_refs()):
            if "score" not in table.column_names:  # an empty block, passed through as it was
                continue
            for score, rows in zip(table.column("score").to_pylist(), table.column("rows").to_pylist()):
                totals[score] = totals.get(score, 0) + rows
        unprocessed = {key.removeprefix(_UNPROCESSED): rows for key, rows in totals.items()
                       if key.startswith(_UNPROCESSED)}
        histogram = {key: rows for key, rows in totals.items() if not key.startswith(_UNPROCESSED)}
        seen = sum(histogram.values()) + sum(unprocessed.values())
        kept = sum(rows for score, rows in histogram.items() if score.isdigit() and int(score) >= self.config.threshold)
        say("judge: judged %s; %d at or above %g, %d unprocessed (endpoint)",
            rate(seen, time.monotonic() - started), kept, self.config.threshold, sum(unprocessed.values()))
        check_outage(service, LLMJudge.name, unprocessed, seen)
        dead = write_dead_letters(ds, ctx.dead_letter_dir(LLMJudge.name))
        self._outcome = StepOutcome(report={
            "threshold": self.config.threshold, "score": self.config.score, "histogram": histogram,
            "dead_letters": dead, "unprocessed": sum(unprocessed.values()), "unprocessed_by_reason": unprocessed,
        })
        return ds.drop_columns([schema.LLM_DEAD_LETTER])
