"""Planning a refresh: fingerprints, new/changed/unchanged/vanished files, the processing hash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sftforge.jobs.config import ConfigError
from sftforge.jobs.refresh.dates import release_for_date
from sftforge.jobs.refresh.plan import (
    check_lineage_names,
    fingerprint,
    fresh_specs,
    list_inputs,
    plan_refresh,
    processing_hash,
)
from sftforge.jobs.refresh.releases import RefreshError
from sftforge.operators.read.files import expand_files
from sftforge.operators.read.spec import InputSpec


def _file(path: str, size: int, sha: str, input_: int = 0) -> dict:
    return {"path": path, "input": input_, "name": "x", "kind": "instruction", "size": size, "sha256": sha}


def test_plan_sorts_files_by_what_happens_to_them():
    before = [_file("a", 1, "h1"), _file("b", 2, "h2"), _file("gone", 3, "h3")]
    now = [_file("a", 1, "h1"), _file("b", 2, "h2-new"), _file("c", 4, "h4")]
    plan = plan_refresh(now, before)
    assert (plan.new, plan.changed, plan.unchanged, plan.vanished) == (["c"], ["b"], ["a"], ["gone"])
    assert plan.fresh == ["b", "c"] and plan.full_reason is None


def test_a_file_moved_to_another_input_is_changed():
    plan = plan_refresh([_file("a", 1, "h", input_=1)], [_file("a", 1, "h", input_=0)])
    assert plan.changed == ["a"]


def test_without_a_previous_release_everything_is_new():
    plan = plan_refresh([_file("a", 1, "h")], None)
    assert plan.new == ["a"] and plan.full_reason == "no previous release"
    assert plan_refresh([_file("a", 1, "h")], [_file("a", 1, "h")], "config changed").new == ["a"]


def test_fingerprint_of_a_local_file_is_its_sha256(tmp_path: Path):
    (tmp_path / "f.jsonl").write_bytes(b"abc")
    assert fingerprint(str(tmp_path / "f.jsonl")) == {
        "size": 3, "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}


def test_processing_hash_ignores_what_does_not_change_rows():
    base = {"release": "a", "inputs": [1], "output": {"dir": "x", "shard_rows": 5}, "dedup": {"against": []}}
    moved = {"release": "b", "inputs": [2], "output": {"dir": "y", "shard_rows": 5}, "dedup": {"against": ["i"]}}
    assert processing_hash(base) == processing_hash(moved)
    assert processing_hash(base) != processing_hash({**base, "output": {"dir": "x", "shard_rows": 6}})


def test_release_ids_are_dates():
    assert release_for_date("2026-12-03") == "2026-12-03"
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", release_for_date())
    for bad in ("2026-13-01", "yesterday"):
        with pytest.raises(ConfigError):
            release_for_date(bad)


def _spec(path, name: str | None = None) -> InputSpec:
    return InputSpec(path=path, kind="instruction", name=name)


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"instruction": "q", "output": "a"}\n')


def test_narrowed_inputs_keep_the_lineage_names_of_nested_files(tmp_path: Path):
    for relative in ("d1/part-0.jsonl", "d2/part-0.jsonl", "d2/[x]*odd?.jsonl", "top.jsonl"):
        _touch(tmp_path / "drops" / relative)
    for configured in (str(tmp_path / "drops"), str(tmp_path / "drops" / "**" / "*.jsonl")):
        spec = _spec(configured, "drops")
        files = list_inputs([spec])
        if "**" not in configured:
            assert sorted(f["source"] for f in files) == [
                "d1/part-0.jsonl", "d2/[x]*odd?.jsonl", "d2/part-0.jsonl", "top.jsonl"]
        for item in files:
            plan = plan_refresh(files, [f for f in files if f is not item])
            assert plan.new == [item["path"]]
            (narrowed,) = fresh_specs([spec], plan)
            assert [(f.path, f.source) for f in expand_files(narrowed)] == [(item["path"], item["source"])]


def test_two_inputs_with_the_same_file_names_get_distinct_lineage_names(tmp_path: Path):
    for folder in ("a", "b"):
        _touch(tmp_path / "data" / folder / "part-0.jsonl")
    specs = [_spec(str(tmp_path / "data" / "a"), "a"), _spec(str(tmp_path / "data" / "b"), "b")]
    assert [f.source for spec in specs for f in expand_files(spec)] == ["part-0.jsonl", "part-0.jsonl"]
    files = list_inputs(specs)
    assert [f["source"] for f in files] == ["a/part-0.jsonl", "b/part-0.jsonl"]
    check_lineage_names(files)
    for item in files:  # each file read alone (new or changed) keeps that name
        plan = plan_refresh(files, [f for f in files if f is not item])
        narrowed = fresh_specs(specs, plan)
        assert [(f.path, f.source) for spec in narrowed for f in expand_files(spec)] == [
            (item["path"], item["source"])]


def test_files_named_alike_in_lineage_are_refused_before_anything_is_read():
    files = [{"path": "/x/a/p.jsonl", "source": "p.jsonl", "name": "a"},
             {"path": "/y/p.jsonl", "source": "p.jsonl", "name": "b"}]
    with pytest.raises(RefreshError, match=r"input 'a'.*input 'b'.*'p.jsonl'"):
        check_lineage_names(files)
