"""The run report: the funnel, the commonest rejection reasons, and each step's own section.

Written into the release as ``report.json`` (for machines) and ``report.md`` (for people).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sftforge.operators import schema

_DETAIL = re.compile(r"\s*[(\[:;=<>].*$", re.DOTALL)
_ID_LIKE = re.compile(r"\d|^[0-9a-f]{8,}$")


def reason_category(reason: str) -> str:
    """The stable part of a reason: ``language: de (0.93) not in [en]`` -> ``language``.

    Reasons carry details (scores, survivor ids); grouping on the part before the first detail keeps
    the report's table short.
    """
    words = []
    for word in _DETAIL.sub("", reason or "").split():
        if words and _ID_LIKE.search(word):
            break
        words.append(word)
    return " ".join(words) or (reason or "")[:40]


def top_reasons(rejects_dir: Path, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Counts rejected rows per stage and reason category, with one full example reason each."""
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    for path in sorted(rejects_dir.glob("*.parquet")):
        table = pq.read_table(path, columns=[schema.REJECT_STAGE, schema.REJECT_REASON])
        for stage, reason in zip(table.column(0).to_pylist(), table.column(1).to_pylist()):
            key = (stage or "?", reason_category(reason or ""))
            counts[key] += 1
            examples.setdefault(key, reason or "")
    result: dict[str, list[dict[str, Any]]] = {}
    for (stage, category), count in counts.most_common():
        entries = result.setdefault(stage, [])
        if len(entries) < limit:
            entries.append({"reason": category, "rows": count, "example": examples[(stage, category)]})
    return result


def render_markdown(release_id: str, accounting: dict[str, Any], reasons: dict[str, Any],
                    sections: dict[str, Any], splits: dict[str, int]) -> str:
    """A short human-readable report."""
    lines = [f"# sftforge release {release_id}", "", "## Funnel", "",
             "| stage | rows in | kept | rejected |", "|---|---:|---:|---:|"]
    for stage in accounting.get("stages", []):
        lines.append(f"| {stage['stage']} | {stage['rows_in']} | {stage['kept']} | {stage['rejected']} |")
    lines += [
        "",
        f"Rows read {accounting['rows_read']} + generated {accounting['rows_generated']} = written "
        f"{accounting['rows_written']} + rejected {accounting['rows_rejected']}.",
        "",
        "## Rows per split",
        "",
    ]
    lines += [f"- {name}: {count}" for name, count in sorted(splits.items())]
    if reasons:
        lines += ["", "## Rejections", "", "| stage | reason | rows | example |", "|---|---|---:|---|"]
        for stage, entries in reasons.items():
            for entry in entries:
                example = entry["example"].replace("|", "\\|").replace("\n", " ")[:120]
                lines.append(f"| {stage} | {entry['reason']} | {entry['rows']} | {example} |")
    for name, section in sections.items():
        lines += ["", f"## {name}", "", "```json",
                  json.dumps(section, ensure_ascii=False, indent=2, default=str), "```"]
    return "\n".join(lines) + "\n"


def write_report(folder: Path, release_id: str, accounting: dict[str, Any], sections: dict[str, Any],
                 splits: dict[str, int]) -> dict[str, Any]:
    """Writes ``report.json`` and ``report.md`` into ``folder`` (the release's staging folder)."""
    reasons = top_reasons(folder / "rejects")
    report = {"release": release_id, "accounting": accounting, "splits": splits,
              "rejections": reasons, "sections": sections}
    (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str),
                                        encoding="utf-8")
    (folder / "report.md").write_text(render_markdown(release_id, accounting, reasons, sections, splits),
                                      encoding="utf-8")
    return report
