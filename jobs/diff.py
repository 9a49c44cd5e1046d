"""``sftforge diff OLD NEW``: what changed between two releases, from their manifests.

Rows added and removed are counted per input file and summed per input and per split: a file that is new
adds its rows, one that vanished removes its rows, one that changed removes its old rows and adds its new
ones (a file is compared by its fingerprint, never row by row). Releases made without ``--refresh`` have
no per-file counts; their diff holds the split totals and the file changes only.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

EXIT_USAGE = 2


def _files(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    refresh = manifest.get("refresh") or {}
    if refresh.get("files"):
        return {item["path"]: item for item in refresh["files"]}
    return {item["path"]: {"path": item["path"], "name": item.get("input"), "size": item.get("size"),
                           "sha256": item.get("sha256")} for item in manifest.get("inputs", [])}


def _fingerprint(item: dict[str, Any]) -> tuple:
    return item.get("size"), item.get("sha256") or item.get("etag")


def _split_rows(manifest: dict[str, Any]) -> dict[str, dict[str, int]] | None:
    refresh = manifest.get("refresh") or {}
    return refresh.get("rows_by_file_split") if "rows_by_file_split" in refresh else None


def _reasons(manifest: dict[str, Any]) -> set[tuple[str, str]]:
    return {(stage, entry["reason"]) for stage, entries in (manifest.get("rejections") or {}).items()
            for entry in entries}


def diff_manifests(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The differences between two release manifests (``old`` first), as a JSON-ready dict."""
    old_files, new_files = _files(old), _files(new)
    changes = {
        "new": sorted(set(new_files) - set(old_files)),
        "vanished": sorted(set(old_files) - set(new_files)),
        "changed": sorted(p for p in set(old_files) & set(new_files)
                          if _fingerprint(old_files[p]) != _fingerprint(new_files[p])),
    }
    unchanged = len(set(old_files) & set(new_files)) - len(changes["changed"])
    result: dict[str, Any] = {
        "old": old.get("release"), "new": new.get("release"),
        "files": {"new": len(changes["new"]), "changed": len(changes["changed"]),
                  "vanished": len(changes["vanished"]), "unchanged": unchanged},
        "file_changes": changes,
    }
    old_splits = (old.get("rows") or {}).get("by_split", {})
    new_splits = (new.get("rows") or {}).get("by_split", {})
    result["rows_by_split"] = {
        split: {"old": old_splits.get(split, 0), "new": new_splits.get(split, 0)}
        for split in sorted(set(old_splits) | set(new_splits))
    }
    old_rows, new_rows = _split_rows(old), _split_rows(new)
    if old_rows is not None and new_rows is not None:
        added_input: Counter[str] = Counter()
        removed_input: Counter[str] = Counter()
        added_split: Counter[str] = Counter()
        removed_split: Counter[str] = Counter()
        touched_old = changes["vanished"] + changes["changed"]
        touched_new = changes["new"] + changes["changed"]
        for path in touched_old:
            for split, count in old_rows.get(path, {}).items():
                removed_input[str(old_files[path].get("name"))] += count
                removed_split[split] += count
        for path in touched_new:
            for split, count in new_rows.get(path, {}).items():
                added_input[str(new_files[path].get("name"))] += count
                added_split[split] += count
        result["rows_by_input"] = {
            name: {"added": added_input.get(name, 0), "removed": removed_input.get(name, 0)}
            for name in sorted(set(added_input) | set(removed_input))
        }
        for split, entry in result["rows_by_split"].items():
            entry.update(added=added_split.get(split, 0), removed=removed_split.get(split, 0))
    result["new_rejection_reasons"] = [
        {"stage": stage, "reason": reason} for stage, reason in sorted(_reasons(new) - _reasons(old))
    ]
    return result


def render(diff: dict[str, Any]) -> str:
    """The diff as a few readable lines."""
    files = diff["files"]
    lines = [f"{diff['old']} -> {diff['new']}",
             f"files: {files['new']} new, {files['changed']} changed, {files['vanished']} vanished, "
             f"{files['unchanged']} unchanged"]
    for split, entry in diff["rows_by_split"].items():
        extra = f" (+{entry['added']} -{entry['removed']})" if "added" in entry else ""
        lines.append(f"split {split}: {entry['old']} -> {entry['new']}{extra}")
    for name, entry in diff.get("rows_by_input", {}).items():
        lines.append(f"input {name}: +{entry['added']} -{entry['removed']}")
    for item in diff["new_rejection_reasons"]:
        lines.append(f"new rejection reason: {item['stage']}: {item['reason']}")
    return "\n".join(lines)


def read_manifest(release: str) -> dict[str, Any]:
    """The manifest of a published release folder (a path or URL); raises ConfigError if unusable."""
    from sftforge.jobs.config import ConfigError
    from sftforge.jobs.refresh.releases import RefreshError, open_release

    root, _, release_id = release.rstrip("/").rpartition("/")
    try:
        return open_release(root or ".", release_id).manifest
    except RefreshError as exc:
        raise ConfigError(str(exc)) from None


def add_parser(commands) -> argparse.ArgumentParser:
    """Registers ``sftforge diff`` on the CLI's subcommands."""
    diff = commands.add_parser("diff", help="show what changed between two releases")
    diff.add_argument("old", help="the earlier release's folder (path or URL)")
    diff.add_argument("new", help="the later release's folder (path or URL)")
    diff.add_argument("--json", action="store_true", help="print the diff as JSON")
    diff.set_defaults(handler=main)
    return diff


def main(args: argparse.Namespace) -> int:
    result = diff_manifests(read_manifest(args.old), read_manifest(args.new))
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
