"""The pipeline step: dedup the job's Dataset, report it, and save the release's dedup index."""

from __future__ import annotations

from sftforge.jobs.dedup.index_files import join
from sftforge.jobs.dedup.report import dedup_report_section
from sftforge.jobs.dedup.workflow import run_dedup
from sftforge.jobs.steps.base import RunContext, Step, StepOutcome
from sftforge.operators.dedup.exact import STAGE_NAME as EXACT_STAGE
from sftforge.operators.dedup.near import STAGE_NAME as NEAR_STAGE

#: Folder of the release's dedup index, inside the release (``dedup.against`` of a later run points here).
INDEX_DIR = "dedup_index"


class DedupStep(Step):
    """Exact and near dedup across the cluster; writes ``<release>/dedup_index``.

    The index holds the rows dedup kept (a later stage may still reject some of them, in which case a
    later release drops their repeats as duplicates of this release rather than judging them again).
    """

    key = "dedup"
    stages = (EXACT_STAGE, NEAR_STAGE)

    def run(self, ds, ctx: RunContext):
        run = run_dedup(ds, self.config, stats_actor=ctx.stats_actor)
        manifest = {}
        if run.keys is not None:
            # Workers write the parts straight into the release's staging location; a refresh's carried
            # index is already there (``sftforge.jobs.refresh.index``) and the new rows are added to it.
            files = run.write_index(join(ctx.staging_location(), INDEX_DIR), append=True, standalone=False)
            ctx.release_files.extend(dict(item, path=f"{INDEX_DIR}/{item['path']}") for item in files)
            manifest["dedup_index"] = {"path": INDEX_DIR, "against": list(self.config.against)}
        self._outcome = StepOutcome(report=dedup_report_section(run.summary()), manifest=manifest)
        return run.dataset
