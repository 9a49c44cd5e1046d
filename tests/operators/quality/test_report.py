"""The quality report section: rules, histogram, diversity, merged across batches."""

from __future__ import annotations

import pyarrow as pa
from sftforge.operators import schema
from sftforge.operators.quality.report import QualitySummary, rule_names, summarize_quality


def batch(rows: list[tuple]) -> pa.Table:
    names = (schema.DOC_ID, schema.REJECT_STAGE, schema.REJECT_REASON, schema.QUALITY_SCORE, schema.INSTRUCTION_ROOT)
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)},
                    schema=pa.schema([(name, pa.float64() if name == schema.QUALITY_SCORE else pa.string())
                                      for name in names]))


def test_rule_names():
    assert rule_names('refusal("As an AI; model"); response_too_short(3<10 chars)') == ["refusal", "response_too_short"]
    assert rule_names(None) == []


def test_summary_of_two_batches():
    first = batch([
        ("a", None, None, 0.95, "write/poem"),
        ("b", "quality", 'refusal("As an AI"); response_too_short(3<10 chars)', 0.0, "how/bake"),
        ("c", "language", "language: de", None, None),
    ])
    second = batch([
        ("d", None, None, 0.55, "write/story"),
        ("e", "quality", "non_answer(\"N/A\")", 0.0, "what/capital"),
        ("f", "select", "not selected (cluster write/poem, rank 3)", 0.9, "write/poem"),
    ])
    summary = summarize_quality(first).merge(summarize_quality(second))
    section = summary.section()
    assert section["rows_scored"] == 5
    assert section["rows_rejected"] == 2
    assert section["rejected_by_rule"] == {"refusal": 1, "response_too_short": 1, "non_answer": 1}
    assert section["score_histogram"]["0.0-0.1"] == 2
    assert section["score_histogram"]["0.9-1.0"] == 2
    assert section["score_histogram"]["0.5-0.6"] == 1
    assert section["mean_score_kept"] == 0.75
    assert section["diversity"]["instructions"] == 2  # live rows only
    assert QualitySummary.from_dict(summary.to_dict()) == summary


def test_summary_without_quality_columns():
    table = pa.table({schema.DOC_ID: ["a"], schema.TEXT: ["x"]})
    section = summarize_quality(table).section()
    assert section["rows_scored"] == 0 and section["mean_score_kept"] is None
