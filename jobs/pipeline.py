"""The job: read -> stages -> split -> write -> account -> publish.

``STEPS`` is the ordered list of steps between reading and splitting. A step takes the Dataset (live and
already-rejected rows together) and the run context, and returns the next Dataset; a step whose config
key is ``None`` returns its input unchanged.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.accounting import Accounting, reconcile
from jobs.augment import augment_step
from jobs.config import JobConfig, RayConfig
from jobs.dedup.step import dedup_step
from jobs.llm_step import finish_llm, judge_step, start_llm, stop_llm
from jobs.quality_step import quality_step
from jobs.read import read_inputs
from jobs.release import ReleaseWriter
from jobs.report import write_report
from jobs.runner import ActorBudget, apply_stage
from jobs.stats import start_stats_actor
from operators.clean import TextCleaner
from operators.language import LanguageFilter
from operators.split import Splitter

log = logging.getLogger("sftforge")


@dataclass
class RunContext:
    """What steps share during one run.

    Attributes:
        config: The validated job config.
        release_id: The release being written.
        stats_actor: Name of the run's counters actor (pass it to ``apply_stage``).
        staging_dir: The release's staging folder; files a step writes there are published with it.
        report: Sections of the run report, one per step that has something to say.
        manifest: Extra manifest entries (LLM ledger, dedup index paths, ...).
        stage_order: Names of the stages that ran, in order, for accounting.
        llm: The run's started ``LLMService`` (``jobs.llm_step``), or None.
        actor_budget: Which actor pools start at full size (``jobs.runner.ActorBudget``); None starts
            every pool with one actor.
    """

    config: JobConfig
    release_id: str
    stats_actor: str
    staging_dir: Path
    report: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    stage_order: list[str] = field(default_factory=list)
    llm: Any = None
    actor_budget: ActorBudget | None = None

    def apply(self, ds, stage):
        """Applies a batch stage and records it for accounting."""
        self.stage_order.append(stage.name)
        return apply_stage(ds, stage, stats_actor=self.stats_actor, budget=self.actor_budget)


Step = Callable[[Any, RunContext], Any]


def _clean(ds, ctx: RunContext):
    if ctx.config.clean is None:
        return ds
    return ctx.apply(ds, TextCleaner(ctx.config.clean))


def _language(ds, ctx: RunContext):
    if ctx.config.language is None:
        return ds
    return ctx.apply(ds, LanguageFilter(ctx.config.language))


#: The steps between reading and splitting, in order. Each issue's stage adds its step here.
STEPS: list[tuple[str, Step]] = [
    ("clean", _clean),
    ("augment", augment_step),  # before language/dedup/quality: generated rows are filtered like the rest
    ("language", _language),  # after clean (HTML gone), before dedup and the model-based stages
    ("dedup", dedup_step),  # after language, before quality: scores and the judge are paid once per cluster
    ("quality", quality_step),  # after language and dedup: scores, selects (select.target_size), reports
    ("judge", judge_step),  # after quality: the endpoint is paid only for rows the cheap filters kept
]


@dataclass(frozen=True)
class RunResult:
    """Where a run published and what it counted."""

    release_dir: Path
    release_id: str
    accounting: Accounting
    report: dict[str, Any]


def init_ray(config: RayConfig) -> None:
    """Connects to the configured cluster, the submitting cluster (``RAY_ADDRESS``), or starts Ray locally.

    Ray Data's per-operator progress is logged only when the ``sftforge`` logger is at INFO (``-v``).
    """
    import ray
    import ray.data

    if not log.isEnabledFor(logging.INFO):
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ray.data.DataContext.get_current().enable_progress_bars = False
    if ray.is_initialized():
        return
    address = config.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=True)
        return
    # "local" starts a fresh runtime even when a `ray start` cluster runs on this machine.
    ray.init(
        address="local",
        num_cpus=config.num_cpus,
        object_store_memory=config.object_store_memory,
        include_dashboard=False,
        log_to_driver=False,
    )


def run_job(config: JobConfig, config_source: str | None = None) -> RunResult:
    """Runs a whole job and publishes its release.

    Args:
        config: A validated job config.
        config_source: The config file the job came from, recorded in the manifest.

    Raises:
        operators.reader.InputError: An input file cannot be used.
        jobs.accounting.AccountingError: Rows went missing; nothing is published.
    """
    import ray

    init_ray(config.ray)
    release_id = config.release_id()
    run_id = uuid.uuid4().hex[:12]
    stats_handle, stats_name = start_stats_actor(run_id)
    writer = ReleaseWriter(config.output, release_id)
    llm = None
    try:
        llm = start_llm(config, run_id)  # the local model, limits and ledger live until the release is written
        ds, input_files = read_inputs(config.inputs, stats_actor=stats_name)
        ctx = RunContext(
            config, release_id, stats_name, Path(writer.staging_dir), llm=llm,
            actor_budget=ActorBudget.for_cluster(),
        )
        ctx.stage_order.append("read")
        for _name, step in STEPS:
            ds = step(ds, ctx)
        ds = ctx.apply(ds, Splitter(config.split))
        counts = writer.write(ds)
        finish_llm(llm, ctx)  # ledger, cache hits/misses -> manifest["llm"] and report["llm"]
        counters = ray.get(stats_handle.snapshot.remote())
        accounting = reconcile(
            counters, ctx.stage_order, counts.total_written, counts.rejected_by_stage
        )
        report = write_report(ctx.staging_dir, release_id, accounting.as_dict(), ctx.report,
                              counts.rows_by_split)
        manifest = {
            "release": release_id,
            "run_id": run_id,
            "config_source": config_source,
            "config": config.model_dump(mode="json"),
            "config_hash": config.config_hash(),
            "inputs": input_files,
            "accounting": accounting.as_dict(),
            "rejections": report["rejections"],
            "report": ctx.report,
            **ctx.manifest,
        }
        release_dir = writer.publish(manifest)
    except BaseException:
        writer.abort()
        raise
    finally:
        ray.kill(stats_handle)
        stop_llm(llm)
    return RunResult(Path(release_dir), release_id, accounting, ctx.report)
