"""The end-of-run check that every row read (or generated) was written or rejected, stage by stage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class AccountingError(Exception):
    """Rows went missing or appeared from nowhere; the message holds the numbers."""


@dataclass(frozen=True)
class StageCount:
    """Rows one stage saw, passed on and rejected."""

    stage: str
    rows_in: int
    kept: int
    rejected: int


@dataclass(frozen=True)
class Accounting:
    """The reconciled counts of a run.

    Attributes:
        rows_read: Rows the readers produced from input files (bad rows included).
        rows_generated: Rows made by augmentation.
        rows_written: Rows in the release's split outputs (SFT and documents).
        rows_rejected: Rows in ``rejects/``.
        stages: Per-stage counts in pipeline order.
        rejected_by_stage: Rows in ``rejects/`` per stage.
    """

    rows_read: int
    rows_generated: int
    rows_written: int
    rows_rejected: int
    stages: list[StageCount] = field(default_factory=list)
    rejected_by_stage: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_generated": self.rows_generated,
            "rows_written": self.rows_written,
            "rows_rejected": self.rows_rejected,
            "stages": [vars(stage) for stage in self.stages],
            "rejected_by_stage": dict(self.rejected_by_stage),
        }


def reconcile(
    counters: Mapping[str, Mapping[str, int]],
    stage_order: Sequence[str],
    rows_written: int,
    rejected_by_stage: Mapping[str, int],
) -> Accounting:
    """Checks the run's counters against what was written.

    Args:
        counters: The run's counters (``jobs.stats.RunStats.snapshot``): ``read`` has ``rows``; each stage
            has ``in``, ``kept`` and ``rejected``; ``augment`` has ``rows``.
        stage_order: Stages that ran, in order (only those that reported counters are checked).
        rows_written: Rows in the release's split outputs.
        rejected_by_stage: Rows found in ``rejects/`` per stage.

    Raises:
        AccountingError: With every mismatch found, numbers included.
    """
    rows_read = int(counters.get("read", {}).get("rows", 0))
    rows_generated = int(counters.get("augment", {}).get("rows", 0))
    rows_rejected = sum(rejected_by_stage.values())
    problems = []
    stages = []
    for name in stage_order:
        if name not in counters:
            continue
        values = counters[name]
        count = StageCount(name, int(values.get("in", 0)), int(values.get("kept", 0)),
                           int(values.get("rejected", 0)))
        stages.append(count)
        if count.rows_in != count.kept + count.rejected:
            problems.append(
                f"stage {name}: {count.rows_in} rows in != {count.kept} kept + {count.rejected} rejected"
            )
        found = int(rejected_by_stage.get(name, 0))
        if found != count.rejected:
            problems.append(f"stage {name}: rejected {count.rejected} rows but rejects/ holds {found}")
    if rows_read + rows_generated != rows_written + rows_rejected:
        problems.append(
            f"total: {rows_read} read + {rows_generated} generated != "
            f"{rows_written} written + {rows_rejected} rejected "
            f"(difference {rows_read + rows_generated - rows_written - rows_rejected})"
        )
    if problems:
        raise AccountingError("row accounting failed:\n  " + "\n  ".join(problems))
    return Accounting(rows_read, rows_generated, rows_written, rows_rejected, stages, dict(rejected_by_stage))
