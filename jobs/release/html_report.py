"""``report.html``: the run report as one self-contained page (inline CSS and SVG, no script, no network).

It shows the funnel and the rejection reasons with examples, the language mix, record lengths per split,
quality and judge score distributions, dedup cluster sizes with an example cluster, the LLM's requests,
tokens, cost and cache hit rate, and rows per second where a stage measured its time. The distributions
of the released records come from the workers that wrote them (``sftforge.jobs.release.distributions``):
the driver does not read the release back.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
from sftforge.jobs.release import distributions, layout
from sftforge.jobs.release.svg import bins_of_counts, fixed_bins, histogram, horizontal_bars

HTML_REPORT = "report.html"

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;
vertical-align:top}td.n,th.n{text-align:right}.empty{color:#777;font-style:italic}
.example{font-family:ui-monospace,monospace;font-size:.85em;white-space:pre-wrap;max-width:520px}
.summary{font-size:1.05rem}
"""


def _read(path: Path) -> pa.Table:
    return pq.read_table(path) if path.suffix == ".parquet" else pj.read_json(path)


def _files(folder: Path, split: str, documents: bool) -> list[Path]:
    return layout.split_files(folder, "parquet", split, documents) or layout.split_files(
        folder, "jsonl", split, documents
    )


def collect_distributions(folder: Path, splits: list[str], document_splits: list[str]) -> dict[str, Any]:
    """The summary (``distributions``) of the record files in a local release folder, read back.

    A run does not use this: the workers that write the buckets summarise their rows. It is for a
    release folder made some other way (and for files copied from an earlier release without a summary).
    """
    parts = []
    for documents, names in ((False, splits), (True, document_splits)):
        for split in names:
            key = f"documents/{split}" if documents else split
            parts += [distributions.summarize(_read(path), key) for path in _files(folder, split, documents)]
    return distributions.merge(parts)


def _table(header: list[str], rows: list[list[Any]], numeric: set[int] = frozenset()) -> str:
    head = "".join(
        f'<th class="{"n" if i in numeric else ""}">{escape(h)}</th>' for i, h in enumerate(header)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"n" if i in numeric else ""}">{_cell(value)}</td>'
            for i, value in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class _Raw(str):
    """Markup that ``_table`` inserts as is."""


def _cell(value: Any) -> str:
    return value if isinstance(value, _Raw) else escape(str(value))


def _funnel(accounting: dict[str, Any]) -> str:
    stages = accounting.get("stages", [])
    chart = horizontal_bars(
        [(s["stage"], s["kept"]) for s in stages],
        "Funnel: rows kept (blue) and rejected (red) per stage",
        secondary=[s["rejected"] for s in stages],
    )
    rows = [[s["stage"], s["rows_in"], s["kept"], s["rejected"]] for s in stages]
    summary = (
        f'<p class="summary">Rows read {accounting.get("rows_read", 0)} + generated '
        f"{accounting.get('rows_generated', 0)} = written {accounting.get('rows_written', 0)} + rejected "
        f"{accounting.get('rows_rejected', 0)}.</p>"
    )
    return summary + chart + _table(["stage", "rows in", "kept", "rejected"], rows, {1, 2, 3})


def _rejections(reasons: dict[str, Any]) -> str:
    items = [
        (f"{stage}: {entry['reason']}", entry["rows"])
        for stage, entries in reasons.items()
        for entry in entries
    ]
    items.sort(key=lambda item: -item[1])
    rows = [
        [
            stage,
            entry["reason"],
            entry["rows"],
            _Raw(
                f'<div class="example">{escape(entry["example"][:300])}'
                + (f"\n\n{escape(entry['sample'][:300])}" if entry.get("sample") else "")
                + "</div>"
            ),
        ]
        for stage, entries in reasons.items()
        for entry in entries
    ]
    return horizontal_bars(items[:15], "Rejection reasons") + _table(
        ["stage", "reason", "rows", "example (reason, then the row's text)"], rows, {2}
    )


def _score_order(label: str) -> tuple[int, float, str]:
    """Numeric labels first in numeric order, then the others (``none``, ``unjudged``) by name."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def _judge(sections: dict[str, Any]) -> str:
    judge = sections.get("judge") or {}
    found = judge.get("histogram") or (sections.get("llm") or {}).get("judge", {}).get("histogram")
    if not found:
        return '<p class="empty">The judge did not run.</p>'
    bins = sorted(((str(k), v) for k, v in found.items()), key=lambda kv: _score_order(kv[0]))
    threshold = judge.get("threshold")
    note = f"<p>Threshold: {escape(str(threshold))}</p>" if threshold is not None else ""
    return note + histogram(bins, "Judge scores (rows per score)")


def _dedup(sections: dict[str, Any]) -> str:
    dedup = sections.get("dedup")
    if not dedup:
        return '<p class="empty">Deduplication did not run.</p>'
    hist = dedup.get("cluster_size_histogram") or {}
    parts = [
        (
            f"<p>Exact duplicates removed: {dedup.get('removed_exact', 0)}; near duplicates removed: "
            f"{dedup.get('removed_near', 0)}; duplicates of earlier releases: "
            f"{dedup.get('removed_as_duplicates_of_earlier_releases', 0)}.</p>"
        ),
        histogram(list(hist.items()), "Dedup clusters per cluster size"),
    ]
    examples = dedup.get("examples") or []
    if examples:
        parts.append("<p>Example cluster:</p>")
        parts.append(
            f'<div class="example">{escape(json.dumps(examples[0], ensure_ascii=False, indent=1)[:1500])}'
            "</div>"
        )
    return "".join(parts)


def _llm(sections: dict[str, Any]) -> str:
    llm = sections.get("llm")
    if not llm or llm.get("skipped"):
        return '<p class="empty">No LLM was called.</p>'
    cache = llm.get("cache") or {}
    hits, misses = cache.get("hits", 0), cache.get("misses", 0)
    rate = f"{hits / (hits + misses):.1%}" if hits + misses else "n/a"
    rows = [
        ["model", llm.get("model")],
        ["requests", llm.get("requests", 0)],
        ["calls", llm.get("calls", 0)],
        ["retries", llm.get("retries", 0)],
        ["prompt tokens", llm.get("prompt_tokens", 0)],
        ["completion tokens", llm.get("completion_tokens", 0)],
        ["cost", llm.get("cost", 0)],
        ["cache hits / misses", f"{hits} / {misses}"],
        ["cache hit rate", rate],
        ["dead-lettered", llm.get("dead_lettered", 0)],
    ]
    per_stage = llm.get("per_stage") or {}
    stage_rows = [
        [
            stage,
            c.get("requests", 0),
            c.get("prompt_tokens", 0),
            c.get("completion_tokens", 0),
            c.get("cost", 0),
        ]
        for stage, c in per_stage.items()
    ]
    return _table(["", "value"], rows, {1}) + (
        _table(["stage", "requests", "prompt tokens", "completion tokens", "cost"], stage_rows, {1, 2, 3, 4})
        if stage_rows
        else ""
    )


def _throughput(accounting: dict[str, Any], timings: dict[str, float]) -> str:
    rows = []
    for stage in accounting.get("stages", []):
        seconds = timings.get(stage["stage"])
        rows.append(
            [
                stage["stage"],
                stage["rows_in"],
                f"{seconds:.1f}" if seconds else "streamed",
                f"{stage['rows_in'] / seconds:,.0f}" if seconds else "—",
            ]
        )
    for name, seconds in timings.items():
        if name not in {s["stage"] for s in accounting.get("stages", [])} and seconds:
            total = accounting.get("rows_read", 0) + accounting.get("rows_generated", 0)
            rows.append([name, total, f"{seconds:.1f}", f"{total / seconds:,.0f}"])
    return (
        "<p>Stages run streamed, one after the other on the same blocks; a stage without its own "
        "clock shows “streamed”.</p>" + _table(["stage", "rows in", "seconds", "rows/s"], rows, {1, 2, 3})
    )


def render_html(
    report: dict[str, Any], summary: dict[str, Any], timings: dict[str, float] | None = None
) -> str:
    """The whole page from the report dictionary (``report.json``) and the records' summary
    (``sftforge.jobs.release.distributions``)."""
    release = str(report.get("release", ""))
    accounting, sections = report.get("accounting", {}), report.get("sections", {})
    splits = report.get("splits", {})
    length_charts = "".join(
        f"<h3>{escape(split)}</h3>"
        + histogram(bins_of_counts(tally, 20, low=0, integer=True), f"Record length in characters, {split}")
        for split, tally in sorted(summary.get("lengths", {}).items())
    )
    blocks = [
        f"<h1>sftforge release {escape(release)}</h1>",
        "<h2>Funnel</h2>",
        _funnel(accounting),
        "<h2>Rows per split</h2>",
        horizontal_bars(sorted(splits.items()), "Rows per split"),
        "<h2>Rejection reasons</h2>",
        _rejections(report.get("rejections", {})),
        "<h2>Language mix</h2>",
        horizontal_bars(
            list(summary.get("languages", {}).items())[:20], "Released records per language"
        ),
        "<h2>Record lengths per split</h2>",
        length_charts or '<p class="empty">No records.</p>',
        "<h2>Quality scores</h2>",
        histogram(
            fixed_bins(summary.get("quality_bins") or [], 0.0, 1.0),
            "Quality score of released records",
        ),
        "<h2>Judge scores</h2>",
        _judge(sections),
        "<h2>Dedup clusters</h2>",
        _dedup(sections),
        "<h2>LLM usage</h2>",
        _llm(sections),
        "<h2>Throughput</h2>",
        _throughput(accounting, timings or {}),
    ]
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>sftforge release '
        f"{escape(release)}</title><style>{_STYLE}</style></head><body>{''.join(blocks)}</body></html>\n"
    )


def write_html_report(
    folder: Path,
    report: dict[str, Any],
    instruction_splits: list[str],
    document_splits: list[str],
    timings: dict[str, float] | None = None,
    summary: dict[str, Any] | None = None,
) -> Path:
    """Writes ``report.html`` into the release (staging) folder.

    Args:
        summary: The released records' summary as the writer's workers made it (``WriteCounts``'
            ``distributions``). Without it the record files in ``folder`` are read back.
    """
    if summary is None:
        summary = collect_distributions(Path(folder), instruction_splits, document_splits)
    path = Path(folder) / HTML_REPORT
    path.write_text(render_html(report, summary, timings), encoding="utf-8")
    return path
