"""The pipeline step: dedup the job's Dataset, report it, and save the release's dedup index."""

from __future__ import annotations

from jobs.dedup.report import dedup_report_section
from jobs.dedup.workflow import run_dedup
from operators.exact_dedup import STAGE_NAME as EXACT_STAGE
from operators.minhash_dedup import STAGE_NAME as NEAR_STAGE

REPORT_SECTION = "dedup"
#: Folder of the release's dedup index, inside the release (``dedup.against`` of a later run points here).
INDEX_DIR = "dedup_index"


def dedup_step(ds, ctx):
    """Runs dedup when ``dedup`` is configured; writes ``<release>/dedup_index`` and the report section.

    The index holds the rows dedup kept (a later stage may still reject some of them, in which case a later
    release drops their repeats as duplicates of this release rather than judging them again).
    """
    config = getattr(ctx.config, "dedup", None)
    if config is None:
        return ds
    ctx.stage_order.extend([EXACT_STAGE, NEAR_STAGE])
    run = run_dedup(ds, config, stats_actor=ctx.stats_actor)
    ctx.report[REPORT_SECTION] = dedup_report_section(run.summary())
    if run.keys is not None:
        run.write_index(str(ctx.staging_dir / INDEX_DIR))
        ctx.manifest["dedup_index"] = {"path": INDEX_DIR, "against": list(config.against)}
    return run.dataset
