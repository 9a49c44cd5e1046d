"""``sftforge inspect RELEASE``: the funnel, the splits and a few sample records of a published release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table
from sftforge.jobs.release import layout


class ReleaseNotFound(Exception):
    """The path is not a release folder (nor an output folder with a ``LATEST`` release)."""


def resolve_release(path: str | Path) -> Path:
    """The release folder: ``path`` itself, or the ``LATEST`` release when ``path`` is ``output.dir``."""
    folder = Path(path).expanduser()
    if (folder / "LATEST").is_file() and not (folder / "manifest.json").is_file():
        folder = folder / (folder / "LATEST").read_text(encoding="utf-8").strip()
    if not (folder / "manifest.json").is_file() and not (folder / "report.json").is_file():
        raise ReleaseNotFound(f"{path}: not a release folder (no manifest.json or report.json)")
    return folder


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def sample_records(release: Path, split: str, count: int, documents: bool = False) -> list[dict[str, Any]]:
    """The first ``count`` records of a split (Parquet when written, else JSONL)."""
    parquet = layout.split_files(release, "parquet", split, documents)
    if parquet:
        return pq.ParquetFile(parquet[0]).read_row_group(0).slice(0, count).to_pylist()
    records = []
    for path in layout.split_files(release, "jsonl", split, documents)[:1]:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                records.append(json.loads(line))
                if len(records) == count:
                    break
    return records


def _shorten(record: dict[str, Any], width: int) -> str:
    text = json.dumps(record, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def inspect_release(
    path: str | Path, samples: int = 3, console: Console | None = None, width: int = 160
) -> None:
    """Prints the release's funnel, its splits (rows and files per format) and ``samples`` records each."""
    console = console or Console()
    release = resolve_release(path)
    report, manifest = _read_json(release / "report.json"), _read_json(release / "manifest.json")
    accounting = report.get("accounting") or manifest.get("accounting") or {}
    console.print(f"[bold]release[/bold] {release.name}: {release}")
    if accounting:
        funnel = Table(title="funnel", show_edge=False)
        for name, justify in (
            ("stage", "left"),
            ("rows in", "right"),
            ("kept", "right"),
            ("rejected", "right"),
        ):
            funnel.add_column(name, justify=justify)
        for stage in accounting.get("stages", []):
            funnel.add_row(stage["stage"], str(stage["rows_in"]), str(stage["kept"]), str(stage["rejected"]))
        console.print(funnel)
        console.print(
            f"rows read {accounting.get('rows_read', 0)} + generated {accounting.get('rows_generated', 0)}"
            f" = written {accounting.get('rows_written', 0)} + rejected {accounting.get('rows_rejected', 0)}"
        )
    splits = Table(title="splits", show_edge=False)
    for name, justify in (("split", "left"), ("records", "right"), ("files", "left")):
        splits.add_column(name, justify=justify)
    rows = manifest.get("rows") or {}
    found = []
    for documents in (False, True):
        counts = rows.get("documents_by_split" if documents else "instructions_by_split") or {}
        for split in layout.splits(release, documents):
            label = f"documents/{split}" if documents else split
            files = ", ".join(
                f"{fmt} {len(layout.split_files(release, fmt, split, documents))}"
                for fmt in layout.FILE_SUFFIXES
                if layout.split_files(release, fmt, split, documents)
            )
            splits.add_row(label, str(counts.get(split, "?")), files)
            found.append((label, split, documents))
    console.print(splits)
    for label, split, documents in found:
        console.print(f"[bold]{label}[/bold] (first {samples})")
        for record in sample_records(release, split, samples, documents):
            console.print(_shorten(record, width), markup=False, highlight=False, soft_wrap=True)
