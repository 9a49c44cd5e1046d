"""The job: read -> stages -> split -> write -> account -> publish.

``STEPS`` is the ordered list of step classes between reading and splitting (the shape of a step is in
``sftforge.jobs.steps.base``). A step whose config key is ``None`` is not built; the accounting checks
the stages the built steps declare.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import ray.data
from sftforge.jobs.accounting import Accounting, reconcile
from sftforge.jobs.augment.step import AugmentStep
from sftforge.jobs.config import JobConfig
from sftforge.jobs.dedup.step import DedupStep
from sftforge.jobs.guard import check_rows
from sftforge.jobs.progress import rate, say
from sftforge.jobs.ray_start import init_ray
from sftforge.jobs.read import read_inputs
from sftforge.jobs.refresh.index import resolve_auto_against
from sftforge.jobs.release.card import write_card
from sftforge.jobs.release.report import write_report
from sftforge.jobs.release.writer import ReleaseWriter
from sftforge.jobs.runner import ActorBudget
from sftforge.jobs.stats import start_stats_actor
from sftforge.jobs.steps.base import RunContext, StageStep, Step
from sftforge.jobs.steps.judge import JudgeStep
from sftforge.jobs.steps.llm import finish_llm, preflight_llm, start_llm, stop_llm
from sftforge.jobs.steps.quality import QualityStep, SelectStep
from sftforge.operators.clean.cleaner import TextCleaner
from sftforge.operators.language.filter import LanguageFilter
from sftforge.operators.read.records import READ_STAGE
from sftforge.operators.split.splitter import Splitter

log = logging.getLogger("sftforge")


class CleanStep(StageStep):
    """HTML, Unicode, control characters, boilerplate, whitespace."""

    key = "clean"
    stages = (TextCleaner.name,)
    stage_class = TextCleaner


class LanguageStep(StageStep):
    """fastText language identification with a second opinion for unsure or short texts."""

    key = "language"
    stages = (LanguageFilter.name,)
    stage_class = LanguageFilter


#: The steps between reading and splitting, in order. A new step class goes here.
STEPS: list[type[Step]] = [
    CleanStep,
    AugmentStep,  # before language/dedup/quality: generated rows are filtered like the rest
    LanguageStep,  # after clean (HTML gone), before dedup and the model-based stages
    DedupStep,  # after language, before quality: scores and the judge are paid once per cluster
    QualityStep,  # after language and dedup: the cheap filters before the paid ones
    SelectStep,  # after quality: selection ranks by quality score
    JudgeStep,  # after quality: the endpoint is paid only for rows the cheap filters kept
]


def stage_order(steps: list[Step]) -> list[str]:
    """Every stage name of a run in pipeline order, as the accounting checks them."""
    return [READ_STAGE, *(name for step in steps for name in step.stages), Splitter.name]


@dataclass(frozen=True)
class RunResult:
    """Where a run published and what it counted."""

    release_dir: Path | str  # a URL when output.dir is an object store
    release_id: str
    accounting: Accounting
    report: dict[str, Any]


def kept_column_names(config: JobConfig) -> tuple[str, ...] | None:
    """The inputs' ``keep_columns``, in first-seen order; ``None`` when no input names any (the writer then
    takes the keys of the rows' ``source_fields``)."""
    names: list[str] = []
    for spec in config.inputs:
        for name in getattr(spec, "keep_columns", None) or []:
            if name not in names:
                names.append(name)
    return tuple(names) or None


def run_job(config: JobConfig, config_source: str | None = None, refresh=None, force: bool = False) -> RunResult:
    """Runs a whole job and publishes its release.

    Args:
        config: A validated job config.
        config_source: The config file the job came from, recorded in the manifest.
        refresh: A ``sftforge.jobs.refresh.RefreshSession`` for a nightly refresh (new and changed input
            files processed, the others' rows carried over), or None.
        force: Publish even a release the row guard (``output.min_rows``/``max_shrink``) refuses.

    Raises:
        sftforge.operators.read.errors.InputError: An input file cannot be used.
        sftforge.jobs.accounting.AccountingError: Rows went missing; nothing is published.
    """
    say("config valid: %d input(s), steps: %s", len(config.inputs),
        ", ".join(step.key for step in STEPS if step.enabled(config)) or "none")
    preflight_llm(config)  # an endpoint that cannot answer fails the run in seconds, before Ray starts
    run_started = time.monotonic()
    init_ray(config.ray)
    release_id = refresh.release_id if refresh else config.release_id()
    run_id = refresh.run_id if refresh else uuid.uuid4().hex[:12]
    stats_handle, stats_name = start_stats_actor(run_id)
    writer = ReleaseWriter(config.output, release_id, kept_columns=kept_column_names(config))
    llm = None
    try:
        if refresh:
            config = refresh.resolve_against(config, writer.staging_url)
        else:
            config = resolve_auto_against(config)
        llm = start_llm(config, run_id)  # the local model, limits and ledger live until the release is written
        ds, input_files = read_inputs(refresh.inputs() if refresh else config.inputs, stats_actor=stats_name)
        ctx = RunContext(
            config, release_id, stats_name, Path(writer.staging_dir), llm=llm,
            actor_budget=ActorBudget.for_cluster(), staging_url=writer.staging_url,
        )
        steps = [step_class(config) for step_class in STEPS if step_class.enabled(config)]
        for step in steps:
            ds = step.run(ds, ctx)
        ds = ctx.apply(ds, Splitter(config.split))
        say("running the pipeline and writing release %s", release_id)
        if refresh:
            ds = refresh.finish_rows(ds, writer.staging_dir, stats_name, staging_url=writer.staging_url)
        started = time.monotonic()
        # every stage runs here, streamed into the writer
        counts = refresh.write(writer, ds) if refresh else writer.write(ds)
        timings = {"all stages, streamed, and the write": time.monotonic() - started}
        sections: dict[str, Any] = {}
        extra_manifest: dict[str, Any] = {}
        for step in steps:
            outcome = step.outcome()
            if outcome.report:
                sections[step.key] = dict(outcome.report)
            extra_manifest.update(outcome.manifest)
        llm_outcome = finish_llm(llm, sections.get(JudgeStep.key))
        if llm_outcome.report:
            sections["llm"] = dict(llm_outcome.report)
        extra_manifest.update(llm_outcome.manifest)
        counters = ray.get(stats_handle.snapshot.remote())
        written, rejected_by_stage = counts.total_written, counts.rejected_by_stage
        if refresh:
            written, rejected_by_stage = refresh.fresh_written(counters, written, rejected_by_stage)
        accounting = reconcile(counters, stage_order(steps), written, rejected_by_stage)
        accounting_dict = accounting.as_dict()
        if refresh:
            extra_manifest["refresh"] = refresh.manifest(counters)
            accounting_dict = refresh.accounting(accounting_dict, counters)
            sections.update(refresh.report_sections(extra_manifest["refresh"], counts, accounting_dict))
        if not force:
            check_rows(counts.total_written, config.output.min_rows, config.output.max_shrink,
                       config.output.dir, release_id)
        report = write_report(ctx.staging_dir, release_id, accounting_dict, sections,
                              counts.rows_by_split, timings, counts.distributions)
        write_card(ctx.staging_dir, config.output, release_id, counts.instructions_by_split,
                   counts.documents_by_split)
        manifest = {
            "release": release_id,
            "run_id": run_id,
            "config_source": config_source,
            "config": config.model_dump(mode="json"),
            "config_hash": config.config_hash(),
            "inputs": input_files,
            "accounting": accounting_dict,
            "rejections": report["rejections"],
            "report": sections,
            **extra_manifest,
        }
        # what workers wrote themselves: the dedup index, a refresh's carry store
        writer.add_files(ctx.release_files + (refresh.release_files if refresh else []))
        release_dir = writer.publish(manifest)
        say("published %s: %s written, %d rejected",
            release_dir, rate(counts.total_written, time.monotonic() - run_started), accounting.rows_rejected)
    except BaseException:
        writer.abort()
        raise
    finally:
        ray.kill(stats_handle)
        stop_llm(llm)
    return RunResult(release_dir if isinstance(release_dir, str) else Path(release_dir), release_id,
                     accounting, sections)
