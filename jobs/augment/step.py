"""The augment step: generated rows joined to the job's Dataset, filtered downstream like every row."""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

from sftforge.jobs.augment.driver import run_augment
from sftforge.jobs.stats import record
from sftforge.jobs.steps.base import RunContext, Step, StepOutcome
from sftforge.operators.augment.provenance import GENERATED_SCHEMA, with_provenance_columns
from sftforge.operators.llm_client import LLMService

log = logging.getLogger("sftforge.augment")

#: ``reject_stage`` of generated rows' dead letters, and the counters' scope of generated rows.
AUGMENT_STAGE = "augment"


class AugmentStep(Step):
    """Generates rows and returns the Dataset with them appended (union).

    It runs after cleaning and before language, dedup and quality, so that generated rows are filtered
    like every other row and deduplicated against the originals too. The per-row methods read their
    parents from the Dataset, which is materialised first so that the stages before this step run (and
    count their rows) once. Generated rows are counted under ``augment`` in the run's counters (``rows``
    in total and ``rows_<method>``), the funnel goes to the run report under ``augment``, and the dead
    letters are published under ``dead_letter/augment/<method>/``.

    The LLM comes from ``ctx.llm`` (a started ``LLMService``) when the pipeline has one, else from the
    job's ``llm`` with a service started for this step.
    """

    key = "augment"
    stages = ()  # generated rows are counted as rows in, never as a stage's rejections

    @classmethod
    def enabled(cls, job_config) -> bool:
        config = getattr(job_config, cls.key)
        return config is not None and bool(config.methods())

    def run(self, ds, ctx: RunContext):
        import ray.data

        service = ctx.llm
        llm_config = self.job.llm
        if service is None and llm_config is None:
            return self._skip(ds, "augment skipped: no 'llm' endpoint is configured")
        needs_parents = any(name != "self_instruct" for name in self.config.methods())
        if needs_parents:
            ds = ds.materialize()
        work_dir = self.config.work_dir or str(Path(self.job.output.dir) / "_augment")
        opened = contextlib.nullcontext(service) if service is not None else LLMService(
            llm_config, run_id=f"augment-{ctx.release_id}")
        manifest = {}
        with opened as llm:
            if not llm.available:
                return self._skip(ds, llm.skip_reason)
            parents = (lambda: ds.iter_batches(batch_format="pyarrow", batch_size=1024)) if needs_parents else None
            outcome = run_augment(self.config, llm.config, work_dir, parents)
            if service is None:
                manifest["augment_llm"] = llm.report()
        counts = {"rows": outcome.rows, **{f"rows_{method}": rows for method, rows in outcome.rows_by_method().items()}}
        record(AUGMENT_STAGE, counts, ctx.stats_actor)
        self._outcome = StepOutcome(report=outcome.report(), manifest=manifest)
        for method, method_outcome in outcome.methods.items():
            folder = ctx.dead_letter_dir(AUGMENT_STAGE, method)
            folder.mkdir(parents=True, exist_ok=True)
            for part in method_outcome.dead_parts:
                shutil.copyfile(part, folder / Path(part).name)
        if not outcome.rows:
            return ds
        # Both sides carry the base columns and the provenance columns (nulls for the originals); Ray Data
        # unifies any other difference by column name. Asking ``ds`` for its schema instead would execute
        # the steps before this one a second time, and count their rows twice.
        generated_rows = ray.data.read_parquet(outcome.parts, schema=GENERATED_SCHEMA)
        return ds.map_batches(with_provenance_columns, batch_format="pyarrow").union(generated_rows)

    def _skip(self, ds, line: str):
        log.warning(line)
        self._outcome = StepOutcome(report={"skipped": line})
        return ds
