"""Diversity selection: the plan, the selector stage, and the global step on a Ray Dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from sftforge.jobs.steps.base import RunContext
from sftforge.jobs.steps.quality import QualityStep, SelectStep
from sftforge.jobs.steps.select import DiversitySelector, plan_selection, select_diverse, selection_keys
from sftforge.operators import schema
from sftforge.operators.quality.diversity import SelectConfig
from sftforge.operators.quality.scorer import QualityConfig

VERBS = ["Write a poem about", "Explain", "List three facts about", "Translate into French:"]
TOPICS = ["the sea", "autumn", "bread", "cats", "rivers", "snow", "clocks", "bees", "maps", "tea"]


def instruction_rows() -> pa.Table:
    rows = []
    for verb_index, verb in enumerate(VERBS):
        for topic_index, topic in enumerate(TOPICS):
            rows.append({
                schema.DOC_ID: f"{verb_index}-{topic_index}",
                schema.KIND: schema.KIND_INSTRUCTION,
                schema.INSTRUCTION: f"{verb} {topic}.",
                schema.INPUT: "",
                schema.OUTPUT: f"A careful answer about {topic}, written in full sentences for the reader.",
                schema.TEXT: None,
                schema.QUALITY_SCORE: 1.0 - topic_index / 20,
                schema.REJECT_STAGE: None,
                schema.REJECT_REASON: None,
            })
    rows.append({schema.DOC_ID: "doc", schema.KIND: schema.KIND_DOCUMENT, schema.INSTRUCTION: None, schema.INPUT: None,
                 schema.OUTPUT: None, schema.TEXT: "A document.", schema.QUALITY_SCORE: 0.5,
                 schema.REJECT_STAGE: None, schema.REJECT_REASON: None})
    rows.append({schema.DOC_ID: "gone", schema.KIND: schema.KIND_INSTRUCTION, schema.INSTRUCTION: "Explain tides.",
                 schema.INPUT: "", schema.OUTPUT: "As an AI language model, I cannot.", schema.TEXT: None,
                 schema.QUALITY_SCORE: None, schema.REJECT_STAGE: "dedup.exact", schema.REJECT_REASON: "duplicate"})
    return pa.Table.from_pylist(rows)


def test_selection_keys_cover_live_instructions_only():
    keys = selection_keys(instruction_rows())
    assert keys.num_rows == 40
    clusters = set(keys.column("cluster").to_pylist())
    assert clusters == {"write/poem", "explain/sea", "explain/autumn", "explain/bread", "explain/cat",
                        "explain/river", "explain/snow", "explain/clock", "explain/bee", "explain/map",
                        "explain/tea", "list/fact", "translate/french"}
    assert set(selection_keys(instruction_rows(), "verb").column("cluster").to_pylist()) == {
        "write", "explain", "list", "translate"}


def test_plan_and_selector_stage():
    keys = selection_keys(instruction_rows(), "verb")
    unselected = plan_selection(keys, SelectConfig(target_size=8, cluster_by="verb"))
    assert unselected.num_rows == 32
    # Two rounds over four verbs: each verb keeps its two best-scored rows (topics 0 and 1).
    kept = set(keys.column(schema.DOC_ID).to_pylist()) - set(unselected.column(schema.DOC_ID).to_pylist())
    assert kept == {f"{v}-{t}" for v in range(4) for t in range(2)}
    table = instruction_rows().slice(0, 40)
    result = DiversitySelector(SelectConfig(target_size=8), unselected)(table)
    assert result.kept.num_rows == 8
    reasons = dict(zip(result.rejected.column(schema.DOC_ID).to_pylist(),
                       result.rejected.column(schema.REJECT_REASON).to_pylist()))
    assert reasons["0-9"] == "not selected (cluster write, rank 9)"


def test_duplicate_ids_are_one_candidate():
    keys = pa.table({schema.DOC_ID: ["a", "a", "b"], "cluster": ["x", "x", "y"], "score": [0.9, 0.9, 0.1]})
    unselected = plan_selection(keys, SelectConfig(target_size=1))
    assert unselected.column(schema.DOC_ID).to_pylist() == ["b"]


@pytest.mark.ray
def test_select_diverse_on_a_dataset(ray_session):
    import ray.data

    report: dict = {}
    ds = ray.data.from_arrow(instruction_rows()).repartition(3)
    out = select_diverse(ds, SelectConfig(target_size=12, cluster_by="verb"), report=report)
    table = pa.concat_tables(ray_session.get(out.to_arrow_refs()))
    assert table.num_rows == 42
    live = table.filter(pa.compute.is_null(table.column(schema.REJECT_STAGE)))
    assert live.num_rows == 13  # 12 instructions and the document
    stages = table.column(schema.REJECT_STAGE).to_pylist()
    assert stages.count("select") == 28 and stages.count("dedup.exact") == 1
    kept_verbs = {doc.split("-")[0] for doc in live.column(schema.DOC_ID).to_pylist() if doc != "doc"}
    assert kept_verbs == {"0", "1", "2", "3"}
    assert report["select"]["selected"] == 12 and report["select"]["clusters_after"] == 4


@dataclass
class _Config:
    quality: QualityConfig | None
    select: SelectConfig | None


@pytest.mark.ray
def test_quality_and_select_steps_score_select_and_report(ray_session):
    import ray.data

    table = instruction_rows().drop_columns([schema.QUALITY_SCORE])
    job = _Config(QualityConfig(), SelectConfig(target_size=6))
    ctx = RunContext(job, "test", None, Path("unused"))
    quality, select = QualityStep(job), SelectStep(job)
    out = select.run(quality.run(ray.data.from_arrow(table), ctx), ctx)
    result = pa.concat_tables(ray_session.get(out.to_arrow_refs()))
    assert result.num_rows == 42
    assert (quality.stages, select.stages) == (("quality",), ("select",))
    assert result.column(schema.REJECT_STAGE).to_pylist().count("select") == 34
    section = quality.outcome().report
    assert section["rows_scored"] == 41  # the row rejected before the step is not scored
    assert select.outcome().report["selected"] == 6
    assert "score_histogram" in section and "rejected_by_rule" in section
