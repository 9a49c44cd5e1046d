"""Three nights of ``run --refresh`` with inputs and releases on an S3-compatible store (moto on 127.0.0.1).

The judge talks to the OpenAI-protocol test server, so the nights also count LLM requests: a carried row
is never judged again, and a re-run of the same night makes none.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os

import pytest
from sftforge.jobs.config import load_config
from sftforge.jobs.dedup.index_files import live_rows
from sftforge.jobs.refresh import run_refresh
from sftforge.jobs.refresh.lock import RefreshLock
from sftforge.jobs.refresh.releases import RefreshError

from tests.jobs.steps.test_llm import judgement
from tests.support.openai_server import OpenAITestServer
from tests.support.s3_server import S3Server

pytestmark = [pytest.mark.ray, pytest.mark.slow]

OUT = "s3://releases/nightly"
DROPS = "drops/night"


@pytest.fixture(scope="module")
def s3():
    """The store, with its endpoint in this process's environment and in a Ray runtime started after it."""
    import ray

    with S3Server() as server:
        server.create_bucket("drops")
        server.create_bucket("releases")
        with server.exported(SFTFORGE_REFRESH_KEY="sk-test"):
            # Ray workers take the environment of the runtime's start: one started before the store knows nothing.
            had_ray = ray.is_initialized()
            ray.shutdown()
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
            try:
                yield server
            finally:
                ray.shutdown()
        if had_ray:
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)


def _drop(fs, name: str, start: int, count: int, extra: str = "") -> None:
    rows = [{"instruction": f"Question {i}: how do rivers reach the sea number {i}?",
             "output": f"A good answer {i}: rivers flow downhill to the sea, case {i}."}
            for i in range(start, start + count)]
    fs.pipe_file(f"{DROPS}/{name}", ("".join(json.dumps(row) + "\n" for row in rows) + extra).encode())


def _config(tmp_path, url: str):
    path = tmp_path / "job.yaml"
    path.write_text(json.dumps({
        "inputs": [{"path": f"s3://{DROPS}/*.jsonl", "kind": "instruction", "name": "pairs"}],
        "output": {"dir": OUT, "shard_rows": 50},
        "dedup": {"against": "auto"},
        "split": {"ratios": {"train": 0.8, "test": 0.2}},
        "llm": {"base_url": url, "model": "test-model", "api_key_env": "SFTFORGE_REFRESH_KEY", "timeout_s": 5},
        "judge": {"threshold": 4, "workers": 1},
    }), encoding="utf-8")
    return load_config(path)


def _manifest(fs, release: str) -> dict:
    return json.loads(fs.cat_file(f"releases/nightly/{release}/manifest.json"))


def _records(fs, release: str) -> dict[str, bytes]:
    root = f"releases/nightly/{release}/"
    return {path[len(root):]: fs.cat_file(path) for path in sorted(fs.find(root))
            if path[len(root):].startswith(("parquet/", "jsonl/"))}


def _top(fs) -> list[str]:
    return sorted(p.rsplit("/", 1)[-1] for p in fs.ls("releases/nightly", detail=False, refresh=True))


def test_three_nights_on_the_object_store(s3, tmp_path):
    fs = s3.filesystem()
    _drop(fs, "a.jsonl", 0, 30)
    _drop(fs, "b.jsonl", 30, 30)
    with OpenAITestServer(reply=judgement) as llm:
        config = _config(tmp_path, llm.url)
        night1 = run_refresh(config, date="2026-12-01")
        calls = [llm.count]
        m1 = _manifest(fs, "2026-12-01")
        assert m1["refresh"]["full_reason"] == "no previous release"
        assert m1["accounting"]["rows_read"] == 60 and m1["accounting"]["rows_carried"] == 0
        assert all(item.get("etag") for item in m1["refresh"]["files"])
        assert str(night1.release_dir).rstrip("/").endswith("2026-12-01")

        # Night 2: c is new; b changes (5 rows more, and a copy of one of a's rows).
        _drop(fs, "c.jsonl", 100, 20)
        first_of_a = fs.cat_file(f"{DROPS}/a.jsonl").decode().splitlines()[0] + "\n"
        _drop(fs, "b.jsonl", 30, 35, extra=first_of_a)
        run_refresh(config, date="2026-12-02")
        calls.append(llm.count - sum(calls))
        m2 = _manifest(fs, "2026-12-02")
        acc = m2["accounting"]
        assert m2["refresh"]["file_changes"]["new"] == [f"s3://{DROPS}/c.jsonl"]
        assert m2["refresh"]["file_changes"]["changed"] == [f"s3://{DROPS}/b.jsonl"]
        assert acc["rows_read"] == 36 + 20 and acc["rows_carried"] == 30
        assert acc["dropped"] == {"vanished_files": 0, "changed_files": 30}
        assert acc["rejected_by_stage"].get("dedup.exact") == 1  # against the carried index
        assert acc["rows_read"] + acc["rows_carried"] == acc["rows_written"] + acc["rows_rejected"]

        # Night 3: a vanishes; then the same night again.
        fs.rm_file(f"{DROPS}/a.jsonl")
        run_refresh(config, date="2026-12-03")
        calls.append(llm.count - sum(calls))
        m3 = _manifest(fs, "2026-12-03")
        assert m3["accounting"]["dropped"]["vanished_files"] == 30
        assert m3["accounting"]["rows_read"] == 0 and m3["accounting"]["rows_carried"] == 56
        before = _records(fs, "2026-12-03")
        assert before
        run_refresh(config, date="2026-12-03")
        calls.append(llm.count - sum(calls))
    again = _manifest(fs, "2026-12-03")
    assert again["accounting"]["rows_read"] == 0 and again["accounting"]["rows_carried"] == 56
    assert _records(fs, "2026-12-03") == before
    assert calls == [60, 55, 0, 0]  # night 2 judges the 55 rows left of the 56 read (one exact duplicate)
    assert fs.cat_file("releases/nightly/LATEST").decode().strip() == "2026-12-03"
    assert _top(fs) == ["2026-12-01", "2026-12-02", "2026-12-03", "LATEST"]  # no lock, no staging left
    _check_index(fs, ["2026-12-01", "2026-12-02", "2026-12-03"])
    print("three nights:", json.dumps({
        night: {k: _manifest(fs, night)["accounting"][k] for k in ("rows_read", "rows_carried", "rows_written",
                                                                    "rows_rejected", "dropped")}
        for night in ("2026-12-01", "2026-12-02", "2026-12-03")}), "llm calls:", calls)


def _index_files(fs, release: str) -> dict[str, bytes]:
    root = f"releases/nightly/{release}/"
    return {path[len(root):]: fs.cat_file(path) for path in sorted(fs.find(root + "dedup_index"))}


def _check_index(fs, releases: list[str]) -> None:
    """Workers wrote the index into the run's prefix; the manifest lists every file; nights copy them over."""
    for release in releases:
        files = _index_files(fs, release)
        listed = {e["path"]: e for e in _manifest(fs, release)["files"] if e["path"].startswith("dedup_index/")}
        assert set(files) == set(listed) and "dedup_index/params.json" in files
        assert all(hashlib.sha256(data).hexdigest() == listed[path]["sha256"] for path, data in files.items())
    for before, after in itertools.pairwise(releases):
        new = _index_files(fs, after)
        assert all(new[path] == data for path, data in _index_files(fs, before).items()
                   if not path.endswith("params.json"))
    live = live_rows(f"s3://releases/nightly/{releases[-1]}/dedup_index")
    assert live.num_rows == 55  # b's 35 and c's 20 rows; a's struck out when it vanished


def test_an_overlapping_refresh_on_the_store_is_refused(s3):
    fs = s3.filesystem()
    first = RefreshLock("s3://releases/locked", "first").acquire()
    try:
        assert json.loads(fs.cat_file("releases/locked/.lock-refresh"))["token"] == "first"
        with pytest.raises(RefreshError, match="overlapping"):
            RefreshLock("s3://releases/locked", "second").acquire()
    finally:
        first.release()
    assert not fs.exists("releases/locked/.lock-refresh")
    RefreshLock("s3://releases/locked", "third").acquire().release()
