"""Segments: a refresh keeps each night's rows in files of their own, so the next night copies them.

The data files a refresh writes (records, documents, rejects and the carry store) are named
``part-<night>-NNNNN``: the rows that night wrote form its segment. The manifest's ``refresh.segments``
records, per segment, its source files, its rows per split, kind and reject stage, and the type checks
its witnesses pass (``sftforge.jobs.release.buckets``). The next night:

- a segment none of whose source files changed or vanished is **copied** file by file (a hard link
  locally, a copy by the store on an object store): none of its rows is read, and the release's work
  grows with the new rows, not with every row published so far;
- a segment that holds rows of a changed or vanished file, or that has the night's own name (a re-run),
  is **dissolved**: its carry files are read, the rows still carried kept, and they are written again
  with the night's new rows, as the night's segment.

Rows of one source file are all in one segment (a file is read in one night; a changed file is read
again and its old rows dropped), and generated rows are in their parent's segment.

Type witnesses: readers that type a JSON folder from its first lines need every type of the folder
there. The first segment by name (usually the oldest) holds them only for its own rows; when a later
segment has a type check that the first one lacks, every copied segment is dissolved instead
(``covers``), which is the rewrite of everything a release without segments always did.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SEGMENTS = "segments"
#: Folders of a release whose files belong to segments (the dedup index is carried on its own).
DATA_DIRS = ("parquet/", "jsonl/", "documents/", "rejects/", "carry/")
_NAME = re.compile(r"^part-(?P<segment>.+)-\d{5,}\.(parquet|jsonl)$")


def file_prefix(segment: str) -> str:
    """Start of the names of a segment's files."""
    return f"part-{segment}-"


def segment_of(path: str) -> str | None:
    """The segment a release file belongs to, or None (a side file, or a release without segments)."""
    if not path.startswith(DATA_DIRS):
        return None
    found = _NAME.match(path.rsplit("/", 1)[-1])
    return found.group("segment") if found else None


def segment_files(files: list[dict[str, Any]], segments: set[str], folder: str = "") -> list[dict[str, Any]]:
    """Manifest entries of the files of ``segments`` (under ``folder`` when given)."""
    return [item for item in files
            if item["path"].startswith(folder) and segment_of(item["path"]) in segments]


@dataclass
class SegmentPlan:
    """What the night does with each segment of the previous release.

    Attributes:
        copied: Records of the segments copied as they are, by name.
        dissolved: Names of the segments whose carried rows are written again; None when the previous
            release has no segments (made before them): all its carried rows are written again.
    """

    copied: dict[str, dict[str, Any]] = field(default_factory=dict)
    dissolved: list[str] | None = None

    def dissolve_all(self) -> list[str]:
        """Moves every copied segment to the dissolved ones; returns their names."""
        names = sorted(self.copied)
        self.dissolved = sorted((self.dissolved or []) + names)
        self.copied = {}
        return names


def plan_segments(refresh_manifest: dict[str, Any] | None, dropped_sources: set[str], night: str) -> SegmentPlan:
    """Which segments of the previous release are copied and which dissolved.

    Args:
        refresh_manifest: The previous release's ``refresh`` manifest section.
        dropped_sources: Lineage names (``source_file``) of the changed and vanished files.
        night: This night's segment (its release id).
    """
    records = (refresh_manifest or {}).get(SEGMENTS)
    if records is None:
        return SegmentPlan()
    plan = SegmentPlan(dissolved=[])
    for name, record in sorted(records.items()):
        if name == night or dropped_sources & set(record["sources"]):
            plan.dissolved.append(name)
        else:
            plan.copied[name] = record
    return plan


def covers(copied: dict[str, dict[str, Any]], night: str, night_checks: dict[str, list[str]]) -> bool:
    """Whether, per target, the first segment by name passes every type check the target's segments pass."""
    checks = {name: record.get("checks", {}) for name, record in copied.items()}
    checks[night] = night_checks
    for target in {target for found in checks.values() for target in found}:
        holders = sorted(name for name, found in checks.items() if target in found)
        every = set().union(*(checks[name][target] for name in holders))
        if not every <= set(checks[holders[0]][target]):
            return False
    return True


def segment_record(sources: dict[str, int], splits: dict[str, int], counts, checks: dict[str, list[str]]):
    """The manifest record of the night's segment.

    Args:
        sources: Source rows per lineage name (live and rejected).
        splits: Live rows per ``"<source>\\x1f<split>"``.
        counts: The ``WriteCounts`` of the night's write.
        checks: Type checks of the night's witnesses per target.
    """
    return {
        "sources": sorted(name for name in sources if name),
        "rows_by_source": dict(sorted(sources.items())),
        "rows_by_source_split": dict(sorted(splits.items())),
        "instructions_by_split": dict(counts.instructions_by_split),
        "documents_by_split": dict(counts.documents_by_split),
        "rejected_by_stage": dict(counts.rejected_by_stage),
        "checks": checks,
    }


def carried_counts(records: list[dict[str, Any]]) -> tuple[dict[str, int], Counter]:
    """Rows (``rows``, ``live``, ``rejected``) and rejects per stage of copied segments."""
    live = sum(sum(r["instructions_by_split"].values()) + sum(r["documents_by_split"].values()) for r in records)
    rejects: Counter = Counter()
    for record in records:
        rejects.update(record["rejected_by_stage"])
    rejected = sum(rejects.values())
    return {"rows": live + rejected, "live": live, "rejected": rejected}, rejects


def summed(records: list[dict[str, Any]], key: str) -> Counter:
    """``key`` (a per-name count) summed over ``records``."""
    total: Counter = Counter()
    for record in records:
        total.update(record[key])
    return total
