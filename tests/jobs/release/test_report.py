"""The run report groups rejection reasons and renders a readable funnel."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
from sftforge.jobs.release.report import reason_category, write_report
from sftforge.operators import schema


def test_reason_category_drops_details():
    assert reason_category("language: de (0.93) not in [en, zh]") == "language"
    assert reason_category("near_dup of 3fa2 (jaccard 0.91)") == "near_dup of"
    assert reason_category("near_dup of deadbeefcafe0000 (0.91)") == "near_dup of"
    assert reason_category("empty_after_clean") == "empty_after_clean"
    assert reason_category("dup_5gram_chars(0.88>0.15); dup_6gram_chars(0.88>0.14)") == "dup_5gram_chars"


def test_write_report(tmp_path):
    (tmp_path / "rejects").mkdir()
    pq.write_table(pa.table({
        schema.REJECT_STAGE: ["language", "language", "clean"],
        schema.REJECT_REASON: ["language: de (0.93) not in [en]", "language: fr (0.88) not in [en]",
                               "empty_after_clean"],
    }), tmp_path / "rejects" / "part-00000.parquet")
    accounting = {"rows_read": 5, "rows_generated": 0, "rows_written": 2, "rows_rejected": 3,
                  "stages": [{"stage": "clean", "rows_in": 5, "kept": 4, "rejected": 1}]}
    report = write_report(tmp_path, "r1", accounting, {"dedup": {"removed": 0}}, {"train": 2})
    assert report["rejections"]["language"] == [
        {"reason": "language", "rows": 2, "example": "language: de (0.93) not in [en]", "sample": ""}]
    assert json.loads((tmp_path / "report.json").read_text())["splits"] == {"train": 2}
    markdown = (tmp_path / "report.md").read_text()
    assert "| clean | 5 | 4 | 1 |" in markdown and "| language | language | 2 |" in markdown
