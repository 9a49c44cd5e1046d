"""The run report: the funnel, the commonest rejection reasons, and each step's own section.

Written into the release as ``report.json`` (for machines), ``report.md`` and ``report.html`` (for people,
``html_report.py``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sftforge.jobs.release import layout
from sftforge.jobs.release.html_report import write_html_report
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


def _sample(row: dict[str, Any]) -> str:
    """A short piece of a rejected row's own text, to show what was dropped."""
    for name in (schema.TEXT, schema.INSTRUCTION, schema.OUTPUT):
        value = row.get(name)
        if value and str(value).strip():
            return str(value).strip()[:200]
    return ""


def top_reasons(rejects_dir: Path, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Counts rejected rows per stage and reason category, with one full example reason and a piece of
    that row's text (``sample``) each."""
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], tuple[str, str]] = {}
    for path in sorted(rejects_dir.glob("*.parquet")):
        names = pq.read_schema(path).names
        columns = [schema.REJECT_STAGE, schema.REJECT_REASON] + [
            n for n in (schema.TEXT, schema.INSTRUCTION, schema.OUTPUT) if n in names]
        table = pq.read_table(path, columns=columns)
        stages, reasons = table.column(0).to_pylist(), table.column(1).to_pylist()
        for index, (stage, reason) in enumerate(zip(stages, reasons)):
            key = (stage or "?", reason_category(reason or ""))
            counts[key] += 1
            if key not in examples:
                row = {name: table.column(name)[index].as_py() for name in columns[2:]}
                examples[key] = (reason or "", _sample(row))
    result: dict[str, list[dict[str, Any]]] = {}
    for (stage, category), count in counts.most_common():
        entries = result.setdefault(stage, [])
        if len(entries) < limit:
            example, sample = examples[(stage, category)]
            entries.append({"reason": category, "rows": count, "example": example, "sample": sample})
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
        (f"Rows read {accounting['rows_read']} + generated {accounting['rows_generated']} = written "
         f"{accounting['rows_written']} + rejected {accounting['rows_rejected']}."),
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
                 splits: dict[str, int], timings: dict[str, float] | None = None,
                 distributions: dict[str, Any] | None = None) -> dict[str, Any]:
    """Writes ``report.json``, ``report.md`` and ``report.html`` into ``folder`` (the release's staging
    folder, its record files written).

    Args:
        folder: The release folder.
        release_id: The release id.
        accounting: ``Accounting.as_dict()``.
        sections: Each step's report section, by config key.
        splits: Rows per split.
        timings: Seconds per stage (or a named group of stages) where measured, for rows/s.
        distributions: The released records' summary from the writer (``WriteCounts.distributions``);
            without it the HTML report reads the record files in ``folder`` back.
    """
    reasons = top_reasons(folder / "rejects")
    report = {"release": release_id, "accounting": accounting, "splits": splits,
              "rejections": reasons, "sections": sections}
    (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str),
                                        encoding="utf-8")
    (folder / "report.md").write_text(render_markdown(release_id, accounting, reasons, sections, splits),
                                      encoding="utf-8")
    safe = json.loads(json.dumps(report, default=str))
    if distributions is None:
        write_html_report(folder, safe, layout.splits(folder), layout.splits(folder, documents=True), timings)
    else:
        write_html_report(folder, safe, [], [], timings, distributions)
    return report
