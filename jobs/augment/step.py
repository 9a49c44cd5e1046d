"""The augment step: generated rows joined to the job's Dataset, filtered downstream like every row."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sftforge.jobs.augment.checkpoints import dataset_paths, join_url, read_bytes
from sftforge.jobs.augment.driver import run_augment
from sftforge.jobs.augment.row_stage import (
    AugmentRows,
    BatchStore,
    build_row_methods,
    method_url,
    start_target_counter,
)
from sftforge.jobs.stats import record
from sftforge.jobs.steps.base import RunContext, Step, StepOutcome
from sftforge.operators.augment.provenance import GENERATED_SCHEMA, with_provenance_columns
from sftforge.operators.base import Resources
from sftforge.operators.llm_client import LLMService

log = logging.getLogger("sftforge.augment")

#: ``reject_stage`` of generated rows' dead letters, and the counters' scope of generated rows.
AUGMENT_STAGE = "augment"


class AugmentStep(Step):
    """Generates rows and returns the Dataset with them appended.

    It runs after cleaning and before language, dedup and quality, so that generated rows are filtered
    like every other row and deduplicated against the originals too. The per-row methods run as an actor
    pool over the streaming Dataset (``jobs.augment.row_stage``), nothing materialised; Self-Instruct,
    which needs no parents, runs in rounds that the driver plans and commits while worker actors make
    the calls (``jobs.augment.self_instruct_workers``), and its rows are unioned in. Generated rows
    are counted under ``augment`` in the run's counters (``rows`` in total and ``rows_<method>``) once the
    release is written, from the per-batch markers of this run (so a retried batch counts once); the
    funnel goes to the run report under ``augment``, the dead letters to ``dead_letter/augment/<method>/``.

    The LLM comes from ``ctx.llm`` (a started ``LLMService``) when the pipeline has one, else from the
    job's ``llm`` with a service started for this step and stopped in ``outcome()``.
    """

    key = "augment"
    stages = ()  # generated rows are counted as rows in, never as a stage's rejections

    def __init__(self, job_config):
        super().__init__(job_config)
        self._pending: dict[str, Any] | None = None
        self._own_service: LLMService | None = None

    @classmethod
    def enabled(cls, job_config) -> bool:
        config = getattr(job_config, cls.key)
        return config is not None and bool(config.methods())

    def run(self, ds, ctx: RunContext):
        import ray
        import ray.data

        service = ctx.llm
        if service is None and self.job.llm is None:
            return self._skip(ds, "augment skipped: no 'llm' endpoint is configured")
        if service is None:
            service = self._own_service = LLMService(self.job.llm, run_id=f"augment-{ctx.release_id}").__enter__()
        if not service.available:
            line = service.skip_reason
            self._close_service()
            return self._skip(ds, line)
        work_dir = self.config.work_dir or augment_work_dir(self.job.output.dir)
        run_id = uuid.uuid4().hex[:12]
        pending: dict[str, Any] = {"ctx": ctx, "run_id": run_id, "work_dir": work_dir, "self_instruct": None,
                                   "row_methods": [], "target": None, "manifest": {}}
        self._pending = pending
        if self.config.self_instruct is not None and "self_instruct" in self.config.methods():
            only = self.config.model_copy(update={name: None for name in self.config.methods() if name != "self_instruct"})
            pending["self_instruct"] = run_augment(only, service.config, work_dir)
        row_methods = build_row_methods(self.config, service.config)
        if row_methods:
            target_name = f"sftforge-augment-target-{run_id}"
            pending["target"] = start_target_counter(target_name, {m.method: m.config.target_rows for m in row_methods})
            pending["row_methods"] = [(m.method, method_url(work_dir, m)) for m in row_methods]
            resources = Resources(num_cpus=self.config.worker_cpus, actors=True, max_actors=self.config.workers,
                                  batch_rows=self.config.batch_rows)
            budget = ctx.actor_budget
            size = budget.initial_actors(resources) if budget is not None else self.config.workers
            ds = ds.map_batches(
                AugmentRows,
                fn_constructor_args=(self.config, service.config, work_dir, run_id, target_name),
                batch_format="pyarrow",
                batch_size=self.config.batch_rows,
                compute=ray.data.ActorPoolStrategy(min_size=size, max_size=self.config.workers),
                num_cpus=self.config.worker_cpus,
            )
        outcome = pending["self_instruct"]
        if outcome is not None and outcome.rows:
            if not row_methods:
                ds = ds.map_batches(with_provenance_columns, batch_format="pyarrow")
            # Ray Data unifies the two sides by column name (both carry the base and provenance columns).
            paths, filesystem = dataset_paths(outcome.parts)
            ds = ds.union(ray.data.read_parquet(paths, schema=GENERATED_SCHEMA, filesystem=filesystem))
        return ds

    def outcome(self) -> StepOutcome:
        """Counts what the (now executed) Dataset generated, publishes dead letters, stops what it started."""
        pending, self._pending = self._pending, None
        if pending is None:
            return self._outcome
        import ray

        ctx: RunContext = pending["ctx"]
        report: dict[str, Any] = {"rows_generated": 0, "rows_by_method": {}, "methods": {}}
        dead_folders: dict[str, list[str]] = {}
        si = pending["self_instruct"]
        if si is not None:
            for method, method_outcome in si.methods.items():
                report["methods"][method] = method_outcome.report()
                report["rows_by_method"][method] = method_outcome.rows
                dead_folders[method] = list(method_outcome.dead_parts)
        for method, url in pending["row_methods"]:
            store = BatchStore(url)
            rows, counters, usage = 0, Counter(), Counter()
            folder = ctx.dead_letter_dir(AUGMENT_STAGE, method)
            folder.mkdir(parents=True, exist_ok=True)
            for key, info in store.marks(pending["run_id"]):
                rows += int(info["rows"])
                counters.update(info["counters"])
                usage.update(info.get("usage", {}))
                pq.write_table(store.dead(key), folder / f"dead-{key}.parquet")
            target = self.config.methods()[method].target_rows
            report["rows_by_method"][method] = rows
            report["methods"][method] = _row_method_report(target, rows, counters)
            report["methods"][method]["usage"] = {name: round(value, 6) for name, value in sorted(usage.items())}
            log.warning("augment %s: %d/%d rows from %d parents (%d requests)", method, rows, target,
                        counters.get("parents", 0), usage.get("requests", 0))
        report["rows_generated"] = sum(report["rows_by_method"].values())
        counts = {"rows": report["rows_generated"],
                  **{f"rows_{method}": rows for method, rows in report["rows_by_method"].items()}}
        record(AUGMENT_STAGE, counts, ctx.stats_actor)
        for method, parts in dead_folders.items():
            folder = ctx.dead_letter_dir(AUGMENT_STAGE, method)
            folder.mkdir(parents=True, exist_ok=True)
            for part in parts:
                (folder / part.rsplit("/", 1)[-1]).write_bytes(read_bytes(part))
        if pending["target"] is not None:
            ray.kill(pending["target"])
        manifest = {}
        if self._own_service is not None:
            manifest["augment_llm"] = self._own_service.report()
            self._close_service()
        self._outcome = StepOutcome(report=report, manifest=manifest)
        return self._outcome

    def _close_service(self) -> None:
        if self._own_service is not None:
            with contextlib.suppress(Exception):
                self._own_service.__exit__(None, None, None)
            self._own_service = None

    def _skip(self, ds, line: str):
        log.warning(line)
        self._outcome = StepOutcome(report={"skipped": line})
        return ds


def augment_work_dir(output_dir: str | Path) -> str:
    """The default work folder, ``<output.dir>/_augment``: a URL stays a URL (``s3://b/x/_augment``)."""
    if "://" in str(output_dir):
        return join_url(str(output_dir), "_augment")
    return str(Path(output_dir) / "_augment")


def _row_method_report(target: int, rows: int, counters: Counter) -> dict[str, Any]:
    """The funnel of one per-row method in the shape of ``MethodOutcome.report``."""
    def part(prefix: str) -> dict[str, int]:
        return {key.split(".", 1)[1]: value for key, value in sorted(counters.items()) if key.startswith(prefix)}

    parents = counters.get("parents", 0)
    return {
        "target": target,
        "rows": rows,
        "stopped": None if rows >= target else "parents exhausted",
        "funnel": {key: value for key, value in sorted(counters.items()) if not key.startswith(("dead.", "skipped."))},
        "dead_lettered": part("dead."),
        "parents_skipped": part("skipped."),
        "acceptance_rate": round(rows / parents, 4) if parents else None,
    }
