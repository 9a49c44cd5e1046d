"""``sftforge diff``: files and rows added and removed between two manifests."""

from __future__ import annotations

import json

from sftforge.jobs.cli import main
from sftforge.jobs.diff import diff_manifests


def _manifest(release, files, rows_by_file_split, reasons):
    by_split = {}
    for splits in rows_by_file_split.values():
        for split, count in splits.items():
            by_split[split] = by_split.get(split, 0) + count
    return {"release": release, "rows": {"by_split": by_split},
            "rejections": {stage: [{"reason": r, "rows": 1}] for stage, r in reasons},
            "refresh": {"files": [{"path": p, "name": "in", "size": 1, "sha256": h} for p, h in files],
                        "rows_by_file_split": rows_by_file_split}}


OLD = _manifest("n1", [("a", "1"), ("b", "2")], {"a": {"train": 8, "test": 2}, "b": {"train": 4}},
                [("quality", "too short")])
NEW = _manifest("n2", [("b", "2x"), ("c", "3")], {"b": {"train": 5}, "c": {"test": 3}},
                [("quality", "too short"), ("judge", "judge_below_threshold")])


def test_diff_counts_files_and_rows():
    diff = diff_manifests(OLD, NEW)
    assert diff["files"] == {"new": 1, "changed": 1, "vanished": 1, "unchanged": 0}
    assert diff["rows_by_input"] == {"in": {"added": 8, "removed": 14}}
    assert diff["rows_by_split"]["train"] == {"old": 12, "new": 5, "added": 5, "removed": 12}
    assert diff["rows_by_split"]["test"] == {"old": 2, "new": 3, "added": 3, "removed": 2}
    assert diff["new_rejection_reasons"] == [{"stage": "judge", "reason": "judge_below_threshold"}]


def test_diff_command_reads_published_releases(tmp_path, capsys):
    for manifest in (OLD, NEW):
        folder = tmp_path / manifest["release"]
        folder.mkdir()
        (folder / "manifest.json").write_text(json.dumps(manifest))
        (folder / "_SUCCESS").write_text("")
    assert main(["diff", str(tmp_path / "n1"), str(tmp_path / "n2"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"]["new"] == 1
    (tmp_path / "n2" / "_SUCCESS").unlink()
    assert main(["diff", str(tmp_path / "n1"), str(tmp_path / "n2")]) == 2
    assert "_SUCCESS" in capsys.readouterr().err
