"""The quality section of the run report: rejections per rule, the score histogram, diversity.

Built batch by batch (``summarize_quality``) and merged (``QualitySummary.merge``), so the job can
compute it on the workers and only bring counts to the driver.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sftforge.operators import schema
from sftforge.operators.quality.diversity import diversity_summary

QUALITY_STAGE = "quality"
_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
HISTOGRAM_BINS = 10


def rule_names(reason: str | None) -> list[str]:
    """The rules a quality reason lists: ``refusal("..."); response_too_short(3<10 chars)`` -> both names."""
    if not reason:
        return []
    names = []
    for part in reason.split("; "):
        name = part.split("(", 1)[0].strip()
        if _RULE_NAME.match(name):
            names.append(name)
    return names


@dataclass
class QualitySummary:
    """Counts behind the report section; add two with ``merge``.

    Attributes:
        scored: Rows the quality stage scored (kept or rejected by it).
        rejected: Rows the quality stage rejected.
        by_rule: Rejected rows per rule (a row failing two rules counts under both).
        histogram: Scored rows per score bin (``HISTOGRAM_BINS`` equal bins over [0, 1]).
        kept_score_sum: Sum of the scores of rows still live, for the mean.
        kept: Rows still live that have a score.
        roots: Verb/object roots of the live instruction rows.
    """

    scored: int = 0
    rejected: int = 0
    by_rule: Counter = field(default_factory=Counter)
    histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BINS)
    kept_score_sum: float = 0.0
    kept: int = 0
    roots: Counter = field(default_factory=Counter)

    def merge(self, other: QualitySummary) -> QualitySummary:
        return QualitySummary(
            scored=self.scored + other.scored,
            rejected=self.rejected + other.rejected,
            by_rule=self.by_rule + other.by_rule,
            histogram=[a + b for a, b in zip(self.histogram, other.histogram)],
            kept_score_sum=self.kept_score_sum + other.kept_score_sum,
            kept=self.kept + other.kept,
            roots=self.roots + other.roots,
        )

    def section(self) -> dict:
        """The JSON-ready report section."""
        width = 1 / HISTOGRAM_BINS
        return {
            "rows_scored": self.scored,
            "rows_rejected": self.rejected,
            "rejected_by_rule": dict(self.by_rule.most_common()),
            "score_histogram": {
                f"{index * width:.1f}-{(index + 1) * width:.1f}": count for index, count in enumerate(self.histogram)
            },
            "mean_score_kept": round(self.kept_score_sum / self.kept, 4) if self.kept else None,
            "diversity": diversity_summary(self.roots, top=15),
        }

    def to_dict(self) -> dict:
        """A plain form that travels between Ray workers and the driver."""
        return {"scored": self.scored, "rejected": self.rejected, "by_rule": dict(self.by_rule),
                "histogram": list(self.histogram), "kept_score_sum": self.kept_score_sum, "kept": self.kept,
                "roots": dict(self.roots)}

    @classmethod
    def from_dict(cls, data: dict) -> QualitySummary:
        return cls(scored=data["scored"], rejected=data["rejected"], by_rule=Counter(data["by_rule"]),
                   histogram=list(data["histogram"]), kept_score_sum=data["kept_score_sum"], kept=data["kept"],
                   roots=Counter(data["roots"]))


def _column(table: pa.Table, name: str, type_: pa.DataType) -> pa.Array:
    if name in table.column_names:
        column = table.column(name)
        return (column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column).cast(type_)
    return pa.nulls(table.num_rows, type_)


def summarize_quality(table: pa.Table) -> QualitySummary:
    """The quality counts of one batch (any columns may be missing; rows the stage never saw are skipped)."""
    scores = _column(table, schema.QUALITY_SCORE, pa.float64())
    stages = _column(table, schema.REJECT_STAGE, pa.string())
    reasons = _column(table, schema.REJECT_REASON, pa.string())
    by_quality = pc.fill_null(pc.equal(stages, QUALITY_STAGE), False)
    scored_mask = pc.or_(pc.is_valid(scores), by_quality)
    summary = QualitySummary()
    summary.scored = int(pc.sum(scored_mask.cast(pa.int64())).as_py() or 0)
    summary.rejected = int(pc.sum(by_quality.cast(pa.int64())).as_py() or 0)
    for reason in reasons.filter(by_quality).to_pylist():
        summary.by_rule.update(rule_names(reason))
    values = scores.filter(pc.is_valid(scores)).to_numpy(zero_copy_only=False)
    bins = np.clip((values * HISTOGRAM_BINS).astype(np.int64), 0, HISTOGRAM_BINS - 1)
    summary.histogram = np.bincount(bins, minlength=HISTOGRAM_BINS).astype(int).tolist()
    live = pc.is_null(stages)
    kept_scores = scores.filter(pc.and_(live, pc.is_valid(scores)))
    summary.kept = len(kept_scores)
    summary.kept_score_sum = float(pc.sum(kept_scores).as_py() or 0.0)
    if schema.INSTRUCTION_ROOT in table.column_names:
        roots = _column(table, schema.INSTRUCTION_ROOT, pa.string())
        summary.roots.update(value for value in roots.filter(pc.and_(live, pc.is_valid(roots))).to_pylist())
    return summary
