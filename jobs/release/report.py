"""The run report: the funnel, the commonest rejection reasons, and each step's own section.

Written into the release as ``report.json`` (for machines), ``report.md`` and ``report.html`` (for people,
``html_report.py``).
"""

from __future__ import annotations

import json
import re
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


def reject_summary(table, path: str) -> dict[str, list]:
    """Rejected rows of one ``rejects/`` file (``path``, relative to the release) per stage and reason
    category: ``{"<stage>\\x1f<category>": [rows, path, first row, example reason, sample]}``.

    The bucket writer makes it for each rejects file it writes; ``top_reasons`` merges them.
    """
    found: dict[str, list] = {}
    stages = table.column(schema.REJECT_STAGE).to_pylist()
    reasons = table.column(schema.REJECT_REASON).to_pylist()
    texts = [n for n in (schema.TEXT, schema.INSTRUCTION, schema.OUTPUT) if n in table.column_names]
    for index, (stage, reason) in enumerate(zip(stages, reasons)):
        key = f"{stage or '?'}\x1f{reason_category(reason or '')}"
        entry = found.get(key)
        if entry is None:
            row = {name: table.column(name)[index].as_py() for name in texts}
            found[key] = [1, path, index, reason or "", _sample(row)]
        else:
            entry[0] += 1
    return found


def merge_reject_summaries(parts: list[dict[str, list]]) -> dict[str, list]:
    """One summary of several files': rows added, the example of the first file (by path) kept."""
    merged: dict[str, list] = {}
    for part in parts:
        for key, entry in part.items():
            known = merged.get(key)
            if known is None:
                merged[key] = list(entry)
            else:
                rows = known[0] + entry[0]
                if (entry[1], entry[2]) < (known[1], known[2]):
                    known[:] = entry
                known[0] = rows
    return merged


def top_reasons(rejects_dir: Path | None, limit: int = 10,
                summary: dict[str, list] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Counts rejected rows per stage and reason category, with one full example reason and a piece of
    that row's text (``sample``) each: the first such row in file and row order.

    Args:
        rejects_dir: The release's ``rejects/`` folder, read when no ``summary`` is given.
        limit: Categories per stage.
        summary: The rejects files' merged ``reject_summary`` (the bucket writers make them).
    """
    if summary is None:
        summary = merge_reject_summaries([
            reject_summary(pq.read_table(path, columns=_reject_columns(path)), path.name)
            for path in sorted(rejects_dir.glob("*.parquet"))
        ])
    # Most rows first; ties in the order the categories first appear in the files.
    ordered = sorted(summary.items(), key=lambda item: (-item[1][0], item[1][1], item[1][2]))
    result: dict[str, list[dict[str, Any]]] = {}
    for key, (count, _, _, example, sample) in ordered:
        stage, _, category = key.partition("\x1f")
        entries = result.setdefault(stage, [])
        if len(entries) < limit:
            entries.append({"reason": category, "rows": count, "example": example, "sample": sample})
    return result


def _reject_columns(path: Path) -> list[str]:
    names = pq.read_schema(path).names
    return [schema.REJECT_STAGE, schema.REJECT_REASON] + [
        n for n in (schema.TEXT, schema.INSTRUCTION, schema.OUTPUT) if n in names]


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
    reasons = top_reasons(folder / "rejects", summary=(distributions or {}).get("rejections"))
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
