"""The end-of-run check that every row read (or generated) was written or rejected, stage by stage.

The per-stage figures come from the data: every row travels to the writer with its outcome
(``reject_stage`` set, or live), and the writer counts written rows and rejects per stage. The one count
that must not come from the data is the number of rows that entered, so the readers count it per read
unit (``jobs.stats``, keyed so that a retried task never counts twice). A row lost anywhere between
reading and writing then shows as a difference between the two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: Stage name of rows the writer could not format (``jobs.release.writer.WRITE_STAGE``).
WRITE_STAGE = "write"


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


def stage_counts(
    stage_order: Sequence[str], rows_read: int, rows_written: int, rejected_by_stage: Mapping[str, int]
) -> list[StageCount]:
    """Per-stage counts derived from the final data, working back from the rows written.

    A stage's rows in are the rows written plus every row rejected by it or a later stage; the read stage's
    rows in are the rows read (generated rows join after it).
    """
    counts = []
    downstream = rows_written
    for name in reversed(stage_order):
        rejected = int(rejected_by_stage.get(name, 0))
        rows_in = downstream + rejected
        if name == stage_order[0]:
            rows_in = rows_read
        counts.append(StageCount(name, rows_in, rows_in - rejected, rejected))
        downstream += rejected
    return counts[::-1]


def reconcile(
    counters: Mapping[str, Mapping[str, int]],
    stage_order: Sequence[str],
    rows_written: int,
    rejected_by_stage: Mapping[str, int],
) -> Accounting:
    """Checks the rows that entered the run against what was written and rejected.

    Args:
        counters: The run's counters (``jobs.stats.RunStats.snapshot``): ``read`` has ``rows`` (counted per
            read unit); ``augment`` has ``rows``. Per-stage counters, where present, are only quoted in
            the error message to help find where rows went.
        stage_order: Stages that ran, in order (the first is the read stage).
        rows_written: Rows in the release's split outputs.
        rejected_by_stage: Rows found in ``rejects/`` per stage.

    Raises:
        AccountingError: With every mismatch found, numbers included.
    """
    rows_read = int(counters.get("read", {}).get("rows", 0))
    rows_generated = int(counters.get("augment", {}).get("rows", 0))
    rows_rejected = sum(rejected_by_stage.values())
    order = list(stage_order)
    if rejected_by_stage.get(WRITE_STAGE) and WRITE_STAGE not in order:
        order.append(WRITE_STAGE)
    problems = []
    unknown = sorted(set(rejected_by_stage) - set(order))
    for name in unknown:
        problems.append(f"rejects/ holds {rejected_by_stage[name]} rows of stage {name!r}, which did not run")
    if rows_read + rows_generated != rows_written + rows_rejected:
        problems.append(
            f"total: {rows_read} read + {rows_generated} generated != "
            f"{rows_written} written + {rows_rejected} rejected "
            f"(difference {rows_read + rows_generated - rows_written - rows_rejected})"
        )
        for name in order:
            reported = counters.get(name)
            if reported and name != "read":
                problems.append(
                    f"stage {name} reported {reported.get('in', 0)} in, {reported.get('kept', 0)} kept, "
                    f"{reported.get('rejected', 0)} rejected; rejects/ holds {rejected_by_stage.get(name, 0)}"
                )
    if problems:
        raise AccountingError("row accounting failed:\n  " + "\n  ".join(problems))
    stages = stage_counts(order, rows_read, rows_written, rejected_by_stage) if order else []
    return Accounting(rows_read, rows_generated, rows_written, rows_rejected, stages, dict(rejected_by_stage))
