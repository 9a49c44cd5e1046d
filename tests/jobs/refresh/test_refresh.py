"""Three nights of ``run --refresh`` in one Ray session: carried rows, dropped files, re-runs, dedup auto."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sftforge.jobs.config import load_config
from sftforge.jobs.dedup.index_files import live_rows
from sftforge.jobs.refresh import run_refresh
from sftforge.jobs.refresh.lock import RefreshLock
from sftforge.jobs.refresh.releases import RefreshError

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _pairs(path: Path, start: int, count: int, tag: str = "") -> None:
    rows = [{"instruction": f"Question {i}{tag}: how do rivers reach the sea number {i}?",
             "output": f"Answer {i}{tag}: rivers flow downhill to the sea, case {i}."} for i in range(start, start + count)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _config(tmp: Path):
    config = tmp / "job.yaml"
    config.write_text(json.dumps({
        "inputs": [{"path": str(tmp / "drops" / "*.jsonl"), "kind": "instruction", "name": "pairs"}],
        "output": {"dir": str(tmp / "releases"), "shard_rows": 50},
        "dedup": {"against": "auto"},
        "split": {"ratios": {"train": 0.8, "test": 0.2}},
    }), encoding="utf-8")
    return load_config(config)


def _records(release: Path) -> dict[str, bytes]:
    return {p.relative_to(release).as_posix(): p.read_bytes()
            for p in sorted(release.rglob("*.jsonl")) if not p.relative_to(release).as_posix().startswith("carry")}


def _manifest(release: Path) -> dict:
    return json.loads((release / "manifest.json").read_text())


def test_three_nights(ray_session, tmp_path):
    drops = tmp_path / "drops"
    drops.mkdir()
    _pairs(drops / "a.jsonl", 0, 30)
    _pairs(drops / "b.jsonl", 30, 30)
    config = _config(tmp_path)
    releases = tmp_path / "releases"

    first = run_refresh(config, date="2026-12-01")
    m1 = _manifest(first.release_dir)
    assert m1["refresh"]["full_reason"] == "no previous release"
    assert m1["accounting"]["rows_read"] == 60 and m1["accounting"]["rows_carried"] == 0

    # Night 2: a new file, b changed (5 rows appended, one duplicating a row of a).
    _pairs(drops / "c.jsonl", 100, 20)
    _pairs(drops / "b.jsonl", 30, 35)
    with (drops / "b.jsonl").open("a", encoding="utf-8") as handle:
        handle.write((drops / "a.jsonl").read_text().splitlines()[0] + "\n")
    second = run_refresh(config, date="2026-12-02")
    m2 = _manifest(second.release_dir)
    acc = m2["accounting"]
    assert m2["refresh"]["file_changes"]["new"] == [str(drops / "c.jsonl")]
    assert m2["refresh"]["file_changes"]["changed"] == [str(drops / "b.jsonl")]
    assert acc["rows_carried"] == 30  # a's rows, untouched
    assert acc["rows_read"] == 36 + 20
    assert acc["dropped"] == {"vanished_files": 0, "changed_files": 30}
    assert acc["rows_read"] + acc["rows_carried"] == acc["rows_written"] + acc["rows_rejected"]
    assert acc["rejected_by_stage"].get("dedup.exact") == 1  # b's copy of a's row, against the carried index
    assert m2["refresh"]["rows_by_file"][str(drops / "b.jsonl")] == 36
    since = json.loads((second.release_dir / "report.json").read_text())["sections"]["since_last_release"]
    assert since["files"] == {"new": 1, "changed": 1, "vanished": 0, "unchanged": 1}
    assert since["rows_by_input"]["pairs"] == {"added": 55, "removed": 30}

    # Night 3: a vanishes; then night 3 again gives the same bytes.
    (drops / "a.jsonl").unlink()
    third = run_refresh(config, date="2026-12-03")
    m3 = _manifest(third.release_dir)
    assert m3["accounting"]["dropped"]["vanished_files"] == 30
    assert m3["accounting"]["rows_read"] == 0
    assert m3["accounting"]["rows_carried"] == 56
    first_bytes = _records(third.release_dir)
    again = run_refresh(config, date="2026-12-03")
    assert _manifest(again.release_dir)["accounting"]["rows_read"] == 0
    assert _records(again.release_dir) == first_bytes
    assert (releases / "LATEST").read_text().strip() == "2026-12-03"
    since = json.loads((again.release_dir / "report.json").read_text())["sections"]["since_last_release"]
    assert since["old"] == "2026-12-02"
    assert live_rows(str(again.release_dir / "dedup_index")).num_rows == 55  # b's 35, c's 20 (a's struck out)
    _check_index_carried(first.release_dir, second.release_dir, third.release_dir)


def _index_files(release: Path) -> dict[str, bytes]:
    return {p.relative_to(release).as_posix(): p.read_bytes()
            for p in sorted((release / "dedup_index").rglob("*")) if p.is_file()}


def _check_index_carried(*releases: Path) -> None:
    """Every index file is in the manifest with its sha256; each night copies the last night's files."""
    for release in releases:
        files = _index_files(release)
        listed = {item["path"]: item for item in _manifest(release)["files"] if item["path"].startswith("dedup_index/")}
        assert set(files) == set(listed)
        assert all(hashlib.sha256(data).hexdigest() == listed[path]["sha256"] for path, data in files.items())
    for before, after in itertools.pairwise(releases):
        old, new = _index_files(before), _index_files(after)
        assert all(new[path] == data for path, data in old.items() if not path.endswith("params.json"))
    night2 = json.loads((releases[1] / "dedup_index" / "params.json").read_text())
    assert night2["generation"] == 2 and [e["generation"] for e in night2["excluded"]] == [2]
    assert {e["generation"] for e in night2["files"]} == {1, 2}


def test_overlapping_refresh_is_refused(tmp_path):
    lock = RefreshLock(str(tmp_path), "first").acquire()
    try:
        with pytest.raises(RefreshError, match="overlapping"):
            RefreshLock(str(tmp_path), "second").acquire()
    finally:
        lock.release()
    RefreshLock(str(tmp_path), "third").acquire().release()


def test_two_inputs_with_the_same_file_names(ray_session, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    _pairs(tmp_path / "data" / "a" / "part-0.jsonl", 0, 20)
    _pairs(tmp_path / "data" / "b" / "part-0.jsonl", 100, 20)
    config_path = tmp_path / "job.yaml"
    config_path.write_text(json.dumps({
        "inputs": [{"path": str(tmp_path / "data" / "a"), "kind": "instruction", "name": "a"},
                   {"path": str(tmp_path / "data" / "b"), "kind": "instruction", "name": "b"}],
        "output": {"dir": str(tmp_path / "releases"), "shard_rows": 50},
        "dedup": {"against": "auto"},
    }), encoding="utf-8")
    config = load_config(config_path)
    first = run_refresh(config, date="2026-12-01")
    assert _manifest(first.release_dir)["refresh"]["rows_by_file"] == {
        str(tmp_path / "data" / "a" / "part-0.jsonl"): 20, str(tmp_path / "data" / "b" / "part-0.jsonl"): 20}
    _pairs(tmp_path / "data" / "b" / "part-0.jsonl", 100, 25, tag="b")  # b's file changes, a's does not
    second = run_refresh(config, date="2026-12-02")
    m2 = _manifest(second.release_dir)
    assert m2["accounting"]["rows_carried"] == 20 and m2["accounting"]["rows_read"] == 25
    assert m2["accounting"]["dropped"] == {"vanished_files": 0, "changed_files": 20}
    assert m2["accounting"]["rows_written"] == 45
    sources = {(r["source_file"]) for p in (second.release_dir / "carry").glob("*.parquet")
               for r in pq.read_table(p, columns=["source_file"]).to_pylist()}
    assert sources == {"a/part-0.jsonl", "b/part-0.jsonl"}
