"""The one shape of a pipeline step, and the context steps share during a run.

A step is an object that declares its config key (``key``), the stage names its rejected rows carry
(``stages``, which the end-of-run accounting reads), and ``run(ds, ctx) -> ds``. What it has to say goes
into the report and the manifest through ``outcome()``, returned rather than written into shared dicts.
A step whose config key is ``None`` is not run at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sftforge.jobs.runner import ActorBudget, apply_stage
from sftforge.operators.base import Stage

#: Release folder of inputs the LLM could not turn into a usable answer: ``dead_letter/<stage>/...``.
DEAD_LETTER_DIR = "dead_letter"


@dataclass
class RunContext:
    """What steps share during one run.

    Attributes:
        config: The validated job config (``sftforge.jobs.config.JobConfig``).
        release_id: The release being written.
        stats_actor: Name of the run's counters actor (pass it to ``apply_stage``).
        staging_dir: The release's staging folder; files a step writes there are published with it.
        llm: The run's started ``LLMService`` (``sftforge.jobs.steps.llm``), or None.
        actor_budget: Which actor pools start at full size (``sftforge.jobs.runner.ActorBudget``); None
            starts every pool with one actor.
        staging_url: Where workers write release files themselves (the staging folder, or the run's
            prefix on an object store); None: ``staging_dir``.
        release_files: Manifest entries of the files workers wrote under ``staging_url`` (path relative
            to the release, bytes, sha256); the writer lists them and publishes them with the release.
    """

    config: Any
    release_id: str
    stats_actor: str | None
    staging_dir: Path
    llm: Any = None
    actor_budget: ActorBudget | None = None
    staging_url: str | None = None
    release_files: list[dict[str, Any]] = field(default_factory=list)

    def staging_location(self) -> str:
        """``staging_url``, or the staging folder when the run gave none."""
        return self.staging_url or str(self.staging_dir)

    def apply(self, ds, stage: Stage):
        """Applies a batch stage on the workers, counting its rows in the run's counters."""
        return apply_stage(ds, stage, stats_actor=self.stats_actor, budget=self.actor_budget)

    def dead_letter_dir(self, stage: str, *parts: str) -> Path:
        """The release folder for ``stage``'s dead letters (``dead_letter/<stage>/<parts...>``)."""
        return Path(self.staging_dir, DEAD_LETTER_DIR, stage, *parts)


@dataclass(frozen=True)
class StepOutcome:
    """What a finished step reports.

    Attributes:
        report: The step's section of the run report (under the step's ``key``), or empty.
        manifest: Entries the step adds to the manifest (key -> value), or empty.
    """

    report: Mapping[str, Any] = field(default_factory=dict)
    manifest: Mapping[str, Any] = field(default_factory=dict)


class Step(ABC):
    """One step between reading and splitting.

    Subclasses set ``key`` (the job config key that turns the step on; its stages' ``reject_stage``
    names start with it) and ``stages`` (every ``reject_stage`` the step can set, in order), and
    implement ``run``. The pipeline builds a step only when ``config.<key>`` is set.
    """

    key: ClassVar[str]
    stages: ClassVar[tuple[str, ...]]

    def __init__(self, job_config: Any):
        self.job = job_config
        self.config = getattr(job_config, self.key)
        self._outcome = StepOutcome()

    @classmethod
    def enabled(cls, job_config: Any) -> bool:
        """Whether the job configures this step."""
        return getattr(job_config, cls.key) is not None

    @abstractmethod
    def run(self, ds, ctx: RunContext):
        """Returns the Dataset with the step applied (live and rejected rows together)."""

    def outcome(self) -> StepOutcome:
        """The report section and manifest entries, once the release has been written.

        Ray Data is lazy: a step's work may only happen while the writer pulls rows, so the pipeline
        asks for outcomes after writing. Steps that know theirs earlier set ``self._outcome``.
        """
        return self._outcome


class StageStep(Step):
    """A step that is one batch stage applied on the workers (``map_batches``), nothing else."""

    stage_class: ClassVar[type[Stage]]

    def run(self, ds, ctx: RunContext):
        return ctx.apply(ds, self.stage_class(self.config))
