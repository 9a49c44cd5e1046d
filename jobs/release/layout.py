"""Where a release keeps its files (one place, so readers and the writer agree).

::

    <output.dir>/LATEST                              id of the last release published (one line)
    <output.dir>/<release>/
        parquet/<split>/part-NNNNN.parquet           SFT records in the configured format
        jsonl/<split>/part-NNNNN.jsonl               the same records (when JSONL is on)
        documents/parquet/<split>/part-NNNNN.parquet document records: text and metadata
        documents/jsonl/<split>/part-NNNNN.jsonl
        rejects/part-NNNNN.parquet                   every rejected row: doc_id, stage, reason, text
        dead_letter/<stage>/..., dedup_index/...     written by steps
        manifest.json, report.json, report.md        what the run did
        _SUCCESS                                     sha256 of manifest.json; written last
"""

from __future__ import annotations

from pathlib import Path

from sftforge.operators.write.formats import DOCUMENTS

LATEST = "LATEST"
MANIFEST = "manifest.json"
SUCCESS = "_SUCCESS"
REJECTS = "rejects"


def record_dir(target: str, fmt: str) -> str:
    """Folder, relative to the release, of one target's files in one format.

    Args:
        target: ``sft/<split>``, ``documents/<split>`` or ``rejects``.
        fmt: ``parquet`` or ``jsonl``.
    """
    group, _, split = target.partition("/")
    if group == REJECTS:
        return REJECTS
    if group == DOCUMENTS:
        return f"{DOCUMENTS}/{fmt}/{split}"
    return f"{fmt}/{split}"


def record_files(release_files: list[str], kind: str, split: str, fmt: str = "parquet") -> list[str]:
    """The record files of one split among a release's file paths (as the manifest lists them), in order.

    Args:
        release_files: Paths relative to the release folder.
        kind: ``sft`` or ``documents``.
        split: The split's name.
        fmt: ``parquet`` or ``jsonl``.
    """
    folder = record_dir(f"{kind}/{split}", fmt) + "/"
    return sorted(
        path for path in release_files if path.startswith(folder) and "/" not in path[len(folder) :]
    )


FILE_SUFFIXES = {"parquet": ".parquet", "jsonl": ".jsonl"}


def split_dir(release: str | Path, fmt: str, split: str, documents: bool = False) -> Path:
    """The folder of one split's records in one file format, in a local release folder."""
    base = Path(release) / DOCUMENTS if documents else Path(release)
    return base / fmt / split


def relative_pattern(fmt: str, split: str, documents: bool = False) -> str:
    """The glob of one split's files, relative to the release folder (for dataset cards)."""
    prefix = f"{DOCUMENTS}/" if documents else ""
    return f"{prefix}{fmt}/{split}/*{FILE_SUFFIXES[fmt]}"


def split_files(release: str | Path, fmt: str, split: str, documents: bool = False) -> list[Path]:
    """One split's shard files in one file format in a local release folder, in shard order."""
    return sorted(split_dir(release, fmt, split, documents).glob(f"part-*{FILE_SUFFIXES[fmt]}"))


def splits(release: str | Path, documents: bool = False) -> list[str]:
    """The split names that have record files (in any file format) in a local release folder."""
    base = Path(release) / DOCUMENTS if documents else Path(release)
    found = set()
    for fmt, suffix in FILE_SUFFIXES.items():
        folder = base / fmt
        if folder.is_dir():
            found.update(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob(f"part-*{suffix}")))
    return sorted(found)
