"""Which input files a refresh processes, carries over, or drops.

A file is identified by its path (as the reader lists it) and fingerprinted by its size and the sha256 of
its bytes; on an object store that reports an ETag the ETag stands in for the sha256 (no download).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sftforge.jobs.release.manifest import redact
from sftforge.operators.read.files import InputFile, expand_files
from sftforge.operators.read.spec import InputSpec

#: Config keys that do not change how a row is processed: a difference in them keeps the carry-over.
UNPROCESSED_KEYS = ("release", "inputs", "output.dir", "ray", "dedup.against")


def fingerprint(path: str) -> dict[str, Any]:
    """``size`` and ``sha256`` of a file, or its ``etag`` when the filesystem reports one."""
    from sftforge.jobs.read import file_sha256
    from sftforge.jobs.refresh.releases import filesystem

    fs, inner = filesystem(path)
    info = fs.info(inner)
    etag = info.get("ETag") or info.get("etag")
    if etag and "://" in path:
        return {"size": int(info.get("size") or 0), "etag": str(etag).strip('"')}
    return {"size": int(info.get("size") or 0), "sha256": file_sha256(path)}


def list_inputs(specs: Sequence[InputSpec], threads: int = 4) -> list[dict[str, Any]]:
    """Every input file now present: path, lineage name (``source``), input index, kind and fingerprint."""
    files: list[tuple[int, InputFile]] = [(index, f) for index, spec in enumerate(specs) for f in expand_files(spec)]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        prints = list(pool.map(fingerprint, [f.path for _i, f in files]))
    sources = lineage_names([f for _i, f in files])
    return [
        {"path": f.path, "source": source, "input": index, "name": f.spec_name, "kind": f.kind, **fp}
        for (index, f), source, fp in zip(files, sources, prints)
    ]


def lineage_names(files: Sequence[InputFile]) -> list[str]:
    """The files' lineage names in a refresh: a URL as such; a local file relative to the common folder
    of the inputs' roots.

    With one input that is the reader's own name (relative to the input's root). With several, a name
    relative to one root could be another input's too (``a/part-0.jsonl`` and ``b/part-0.jsonl`` as the
    inputs ``a/`` and ``b/`` are both ``part-0.jsonl``); relative to their common folder they are
    ``a/part-0.jsonl`` and ``b/part-0.jsonl``, and rows are matched to the right file night after night.
    """
    import os

    roots = {f.path[: len(f.path) - len(f.source)] for f in files
             if "://" not in f.path and f.source and f.path.endswith("/" + f.source)}
    if len(roots) <= 1:
        return [f.source or f.path for f in files]
    common = os.path.commonpath([root.rstrip("/") or "/" for root in roots])
    return [os.path.relpath(f.path, common) if f.path[: len(f.path) - len(f.source)] in roots else (f.source or f.path)
            for f in files]


def processing_hash(config_dump: dict[str, Any]) -> str:
    """sha256 of the config without the keys that do not change how rows are processed."""
    data = json.loads(json.dumps(redact(config_dump)))
    for dotted in UNPROCESSED_KEYS:
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _same(before: dict[str, Any], now: dict[str, Any]) -> bool:
    if before.get("size") != now.get("size") or before.get("input") != now.get("input"):
        return False
    for key in ("sha256", "etag"):
        if now.get(key) is not None:
            return before.get(key) == now[key]
    return False


@dataclass
class RefreshPlan:
    """The files of one refresh, by what happens to them.

    Attributes:
        files: Every input file now present (path, input, fingerprint).
        new: Paths not in the previous release: processed.
        changed: Paths whose fingerprint differs: processed; their previous rows dropped.
        unchanged: Paths with the same fingerprint: their previous rows carried over.
        vanished: Paths of the previous release no longer present: their rows dropped.
        full_reason: Why nothing is carried over (first release, config changed), else None.
        sources: Path -> the file's name in lineage (``source_file``), for this run's and the previous
            release's files.
    """

    files: list[dict[str, Any]]
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    full_reason: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def source_names(self, paths: list[str]) -> list[str]:
        """The lineage names (``source_file`` values) of ``paths``."""
        return [self.sources.get(path, path) for path in paths]

    @property
    def fresh(self) -> list[str]:
        """Paths this run reads and processes."""
        return sorted(self.new + self.changed)

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "changed": len(self.changed), "unchanged": len(self.unchanged),
                "vanished": len(self.vanished)}


def plan_refresh(files: list[dict[str, Any]], previous: list[dict[str, Any]] | None,
                 full_reason: str | None = None) -> RefreshPlan:
    """Compares the files now present with those the previous release recorded.

    Args:
        files: ``list_inputs`` of this run.
        previous: The previous release's ``refresh.files`` (None: no usable previous release).
        full_reason: Set when the previous release cannot be carried over; every file is then new.
    """
    plan = RefreshPlan(files=files, full_reason=full_reason)
    plan.sources = {f["path"]: f.get("source", f["path"]) for f in [*(previous or []), *files]}
    if previous is None or full_reason:
        plan.new = [f["path"] for f in files]
        plan.full_reason = full_reason or "no previous release"
        return plan
    before = {f["path"]: f for f in previous}
    for now in files:
        earlier = before.pop(now["path"], None)
        if earlier is None:
            plan.new.append(now["path"])
        elif _same(earlier, now):
            plan.unchanged.append(now["path"])
        else:
            plan.changed.append(now["path"])
    plan.vanished = sorted(before)
    return plan


def narrowed_path(path: str, source: str) -> str:
    """A pattern that matches only ``path`` and gives it the same lineage name ``source``.

    A local file's lineage name is relative to its configured root (a folder, or a pattern's folder
    before its first wildcard). Narrowed to the bare path, ``data/d1/part-0.jsonl`` of the input
    ``data/`` would be named ``part-0.jsonl``, not ``d1/part-0.jsonl``, and the next night could not
    find its rows. A one-character class (``data/[d]1/part-0.jsonl``) keeps the root where it was.
    A URL is its own lineage name and is narrowed to itself (so is a name that starts with ``!``, ``^``
    or ``]``, which a character class cannot hold first).
    """
    if "://" in path or source == path or not path.endswith("/" + source) or source[0] in "!^]":
        return path
    root = path[: len(path) - len(source)]
    return f"{root}[{source[0]}]{_escape_glob(source[1:])}"


def _escape_glob(text: str) -> str:
    return "".join(f"[{char}]" if char in "*?[" else char for char in text)


def check_lineage_names(files: list[dict[str, Any]]) -> None:
    """Refuses files that lineage would name alike: rows are matched to their file by that name.

    Raises:
        RefreshError: Two input files share a lineage name (``source_file``); the message names both.
    """
    from sftforge.jobs.refresh.releases import RefreshError

    seen: dict[str, dict[str, Any]] = {}
    for item in files:
        name = item.get("source") or item["path"]
        other = seen.setdefault(name, item)
        if other is not item:
            raise RefreshError(
                f"input files {other['path']} (input '{other.get('name')}') and {item['path']} (input "
                f"'{item.get('name')}') are both named '{name}' in lineage (source_file, relative to each "
                "input's folder): a refresh tells files apart by that name. Configure one input over their "
                "common folder, or give the files distinct names.")


def fresh_specs(specs: Sequence[InputSpec], plan: RefreshPlan) -> list[InputSpec]:
    """The inputs narrowed to the files this run processes (inputs with none left are dropped).

    Each file keeps the lineage name it has in the full input (see ``narrowed_path``).
    """
    fresh = set(plan.fresh)
    narrowed = []
    for index, spec in enumerate(specs):
        paths = [narrowed_path(f["path"], f.get("source") or f["path"])
                 for f in plan.files if f["input"] == index and f["path"] in fresh]
        if paths:
            narrowed.append(spec.model_copy(update={"path": paths, "name": spec.label}))
    return narrowed
