"""Segments: a night's files are copied the next night unless their rows change; the first files keep
every type witness."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.json as pj
import pytest
from sftforge.jobs.config import load_config
from sftforge.jobs.refresh import run_refresh
from sftforge.jobs.refresh.segments import SEGMENTS, covers, plan_segments, segment_files, segment_of

RECORD = {"sources": ["a.jsonl"], "rows_by_source": {"a.jsonl": 3}, "rows_by_source_split": {},
          "instructions_by_split": {"train": 3}, "documents_by_split": {}, "rejected_by_stage": {}, "checks": {}}


def test_files_are_named_by_their_night():
    assert segment_of("parquet/train/part-2026-12-01-00003.parquet") == "2026-12-01"
    assert segment_of("carry/part-2026-12-01-x-00000.parquet") == "2026-12-01-x"
    assert segment_of("parquet/train/part-00003.parquet") is None  # not a refresh's file: no night
    assert segment_of("dedup_index/rows/part-2026-12-01-00000.parquet") is None
    files = [{"path": "jsonl/train/part-2026-12-01-00000.jsonl"}, {"path": "jsonl/train/part-2026-12-01-x-00000.jsonl"},
             {"path": "carry/part-2026-12-01-00000.parquet"}]
    assert [f["path"] for f in segment_files(files, {"2026-12-01"})] == [files[0]["path"], files[2]["path"]]
    assert segment_files(files, {"2026-12-01"}, "carry/") == [files[2]]


def test_segments_with_dropped_files_or_the_nights_name_are_dissolved():
    section = {SEGMENTS: {"n1": RECORD, "n2": dict(RECORD, sources=["b.jsonl"]), "n3": dict(RECORD, sources=[])}}
    plan = plan_segments(section, {"b.jsonl"}, "n3")
    assert sorted(plan.copied) == ["n1"] and plan.dissolved == ["n2", "n3"]
    assert plan.dissolve_all() == ["n1"] and plan.copied == {} and plan.dissolved == ["n1", "n2", "n3"]
    legacy = plan_segments({"files": []}, set(), "n3")  # a release made before segments: all rewritten
    assert legacy.copied == {} and legacy.dissolved is None


def test_the_first_segment_must_witness_every_type_of_its_target():
    copied = {"n1": dict(RECORD, checks={"sft/train": ["instruction~text", "output~text"]})}
    assert covers(copied, "n2", {"sft/train": ["output~text"]})
    assert covers(copied, "n2", {"rejects": ["reject_reason~text"]})  # a target of its own
    assert not covers(copied, "n2", {"sft/train": ["output~text", "domain~text"]})
    assert covers(copied, "n0", {"sft/train": ["output~text", "domain~text", "instruction~text"]})  # n0 is first


def _pairs(path: Path, start: int, count: int, **extra) -> None:
    rows = [{"instruction": f"Question {i}: how do rivers reach the sea number {i}?",
             "output": f"Answer {i}: rivers flow downhill to the sea, case {i}.", **extra}
            for i in range(start, start + count)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _config(tmp: Path):
    path = tmp / "job.yaml"
    path.write_text(json.dumps({
        "inputs": [{"path": str(tmp / "drops" / "*.jsonl"), "kind": "instruction", "name": "pairs",
                    "keep_columns": ["domain"]}],
        "output": {"dir": str(tmp / "releases"), "shard_rows": 40},
        "dedup": {"against": "auto"},
        "split": {"ratios": {"train": 0.8, "test": 0.2}},
    }), encoding="utf-8")
    return load_config(path)


def _manifest(release: Path) -> dict:
    return json.loads((release / "manifest.json").read_text())


def _data(release: Path) -> dict[str, bytes]:
    return {p.relative_to(release).as_posix(): p.read_bytes() for p in sorted(release.rglob("part-*"))
            if not p.relative_to(release).as_posix().startswith("dedup_index")}


@pytest.mark.ray
@pytest.mark.slow
def test_unchanged_nights_are_copied_and_changed_ones_written_again(ray_session, tmp_path):
    drops = tmp_path / "drops"
    drops.mkdir()
    _pairs(drops / "a.jsonl", 0, 30, domain="rivers")
    _pairs(drops / "b.jsonl", 30, 30, domain="rivers")
    config = _config(tmp_path)
    first = run_refresh(config, date="2026-12-01")
    night1 = _data(first.release_dir)
    assert night1 and all("part-2026-12-01-" in path for path in night1)

    # Night 2: only a new file. Night 1's files come over byte for byte, none of its rows is read.
    _pairs(drops / "c.jsonl", 100, 20, domain="sea")
    second = run_refresh(config, date="2026-12-02")
    m2 = _manifest(second.release_dir)
    data2 = _data(second.release_dir)
    assert {path: data2[path] for path in night1} == night1
    assert sorted(m2["refresh"][SEGMENTS]) == ["2026-12-01", "2026-12-02"]
    assert m2["refresh"][SEGMENTS]["2026-12-02"]["sources"] == ["c.jsonl"]
    acc = m2["accounting"]
    assert acc["rows_read"] == 20 and acc["rows_carried"] == 60
    assert acc["rows_read"] + acc["rows_carried"] == acc["rows_written"] + acc["rows_rejected"] == 80
    listed = {item["path"]: item for item in m2["files"]}
    for path, data in data2.items():
        assert listed[path]["bytes"] == len(data)
    assert m2["rows"]["written"] == 80 and sum(m2["rows"]["by_split"].values()) == 80

    # Night 3: b changes. Night 1 (a and b) is written again with b's new rows; night 2 (c) is copied.
    _pairs(drops / "b.jsonl", 30, 31, domain="rivers")
    third = run_refresh(config, date="2026-12-03")
    m3 = _manifest(third.release_dir)
    data3 = _data(third.release_dir)
    night2 = {path: data for path, data in data2.items() if "part-2026-12-02-" in path}
    assert {path: data3[path] for path in night2} == night2
    assert not any("part-2026-12-01-" in path for path in data3)
    assert sorted(m3["refresh"][SEGMENTS]) == ["2026-12-02", "2026-12-03"]
    assert m3["refresh"][SEGMENTS]["2026-12-03"]["sources"] == ["a.jsonl", "b.jsonl"]
    acc = m3["accounting"]
    assert acc["rows_read"] == 31 and acc["rows_carried"] == 50  # a's 30 rewritten, c's 20 copied
    assert acc["dropped"] == {"vanished_files": 0, "changed_files": 30}
    assert acc["rows_written"] + acc["rows_rejected"] == 81
    assert m3["refresh"]["rows_by_file"] == {str(drops / "a.jsonl"): 30, str(drops / "b.jsonl"): 31,
                                             str(drops / "c.jsonl"): 20}

    again = run_refresh(config, date="2026-12-03")
    records = lambda data: {path: b for path, b in data.items() if not path.startswith("carry/")}
    assert records(_data(again.release_dir)) == records(data3)  # the carry store follows Ray's blocks
    assert _manifest(again.release_dir)["accounting"]["rows_carried"] == 81


@pytest.mark.ray
@pytest.mark.slow
def test_a_new_type_in_a_later_night_rewrites_the_copied_nights(ray_session, tmp_path):
    drops = tmp_path / "drops"
    drops.mkdir()
    _pairs(drops / "a.jsonl", 0, 30, domain="2024-05-01")  # night 1's domains all read as dates
    config = _config(tmp_path)
    run_refresh(config, date="2026-12-01")
    _pairs(drops / "c.jsonl", 100, 20, domain="sea")
    second = run_refresh(config, date="2026-12-02")
    m2 = _manifest(second.release_dir)
    assert sorted(m2["refresh"][SEGMENTS]) == ["2026-12-02"]
    assert m2["accounting"]["rows_carried"] == 30 and m2["accounting"]["rows_read"] == 20
    first_file = min((second.release_dir / "jsonl" / "train").glob("*.jsonl"))
    head = pj.read_json(first_file, read_options=pj.ReadOptions(block_size=1 << 10))
    assert head.schema.field("domain").type == "string"  # a text domain of night 2 leads the first file
