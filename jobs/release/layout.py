"""Where a release keeps its record files: one tree per file format, so loaders can take a folder.

``<release>/<fmt>/<split>/part-NNNNN.<ext>`` holds SFT records and ``<release>/documents/<fmt>/<split>/...``
document records. A folder never mixes file types (LLaMA-Factory refuses that), and document splits sit
under ``documents/`` where a ``**/train/**`` pattern for the SFT files cannot reach them. Code that reads a
release finds its files through these functions only.
"""

from __future__ import annotations

from pathlib import Path

DOCUMENTS = "documents"
FILE_SUFFIXES = {"parquet": ".parquet", "jsonl": ".jsonl"}


def record_dir(release: str | Path, fmt: str, split: str, documents: bool = False) -> Path:
    """The folder of one split's records in one file format."""
    base = Path(release) / DOCUMENTS if documents else Path(release)
    return base / fmt / split


def relative_pattern(fmt: str, split: str, documents: bool = False) -> str:
    """The glob of one split's files, relative to the release folder (for dataset cards)."""
    prefix = f"{DOCUMENTS}/" if documents else ""
    return f"{prefix}{fmt}/{split}/*{FILE_SUFFIXES[fmt]}"


def record_files(release: str | Path, fmt: str, split: str, documents: bool = False) -> list[Path]:
    """One split's shard files in one file format, in shard order."""
    return sorted(record_dir(release, fmt, split, documents).glob(f"part-*{FILE_SUFFIXES[fmt]}"))


def splits(release: str | Path, documents: bool = False) -> list[str]:
    """The split names that have record files (in any file format)."""
    base = Path(release) / DOCUMENTS if documents else Path(release)
    found = set()
    for fmt, suffix in FILE_SUFFIXES.items():
        folder = base / fmt
        if folder.is_dir():
            found.update(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob(f"part-*{suffix}")))
    return sorted(found)
