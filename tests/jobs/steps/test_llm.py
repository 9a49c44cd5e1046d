"""The judge inside a whole run: service lifecycle, judge step, ledger in manifest and report, no key."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from sftforge.jobs.config import load_config
from sftforge.jobs.pipeline import run_job
from sftforge.operators import schema

from tests.support.openai_server import OpenAITestServer

pytestmark = pytest.mark.ray


def judgement(body: dict):
    """Overall 5 for responses that mention 'good', else 2; the criteria follow."""
    user = "\n".join(message["content"] for message in body["messages"] if message["role"] == "user")
    if "BROKEN" in user:
        return "Looks fine to me."
    overall = 5 if "good" in user.split("### Response", 1)[-1] else 2
    part = {"score": overall, "rationale": "scripted"}
    return {"harmless": part, "honest": part, "helpful": part, "overall": overall}


def write_job(tmp_path: Path, url: str, **extra) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    pairs = [{"instruction": f"Question {i}?", "output": f"A {'good' if i % 2 else 'poor'} answer {i}."}
             for i in range(10)]
    pairs += [{"instruction": f"问题 {i}？", "output": f"一个 good 回答 {i}。"} for i in range(4)]
    pairs.append({"instruction": "Grade me.", "output": "BROKEN reply bait"})
    (folder / "pairs.jsonl").write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in pairs) + "\n")
    data = {
        "release": "r1",
        "inputs": [{"path": "in/pairs.jsonl", "kind": "instruction"}],
        "output": {"dir": "out", "shard_rows": 100},
        "split": {"ratios": {"train": 0.7, "test": 0.3}},
        "llm": {"base_url": url, "model": "test-model", "api_key_env": "SFTFORGE_E2E_KEY",
                "cache": str(tmp_path / "llm-cache"), "timeout_s": 5},
        "judge": {"threshold": 4, "workers": 1},
        **extra,
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_judge_runs_in_the_pipeline_and_the_ledger_reaches_the_manifest(ray_session, tmp_path):
    with OpenAITestServer(reply=judgement) as server:
        path = write_job(tmp_path, server.url)
        run_job(load_config(path))
        first_requests = server.count
        result = run_job(load_config(path))  # the same job again, into the same release
        second_requests = server.count - first_requests
    release = tmp_path / "out" / "r1"
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["accounting"]["rows_read"] == 15
    assert manifest["accounting"]["rows_written"] == 9  # 5 good English + 4 Chinese
    rejects = pq.read_table(release / "rejects").to_pylist()
    assert sorted(r[schema.REJECT_REASON] for r in rejects) == ["judge_below_threshold"] * 5 + ["llm_invalid_json"]
    assert all(r[schema.REJECT_STAGE] == "judge" for r in rejects)
    [letter] = pq.read_table(release / "dead_letter" / "judge").to_pylist()
    assert letter["reason"] == "invalid_json" and letter["raw"] == "Looks fine to me."
    assert letter[schema.REJECT_REASON] == "llm_invalid_json"
    assert letter["attempts"] == 0  # the published release is the re-run, answered from the cache
    written = pq.read_table(release / "parquet" / "train").column_names
    assert schema.LLM_DEAD_LETTER not in written
    assert first_requests == 16 and second_requests == 0  # 15 rows + 1 repair, then all from the cache
    llm = manifest["llm"]
    assert llm["ledger"]["stages"]["judge"]["calls"] == 15
    assert llm["cache"]["hits"] == 16 and llm["cache"]["misses"] == 0
    assert llm["api_key_env"] == "SFTFORGE_E2E_KEY"
    assert result.report["judge"]["histogram"] == {"1": 0, "2": 5, "3": 0, "4": 0, "5": 9, "unscored": 1}
    assert result.report["judge"]["dead_letters"] == 1
    assert result.report["llm"]["judge"]["histogram"] == result.report["judge"]["histogram"]
    assert result.report["llm"]["cache"]["hits"] == 16
    chinese = [entry for entry in server.log if "问题" in entry.body["messages"][-1]["content"]]
    assert len(chinese) == 4 and all("审核" in entry.body["messages"][0]["content"] for entry in chinese)


@pytest.mark.parametrize("empty", ["no rows read", "every row rejected before"])
def test_judge_with_no_row_to_judge_asks_nothing_and_publishes(ray_session, tmp_path, empty):
    with OpenAITestServer(reply=judgement) as server:
        extra = {"language": {"allowed": ["fr"]}} if empty == "every row rejected before" else {}
        path = write_job(tmp_path, server.url, **extra)
        if empty == "no rows read":  # a dataset with no block schema at all (a refresh with nothing new)
            (tmp_path / "in" / "pairs.jsonl").write_text("", encoding="utf-8")
        result = run_job(load_config(path, ["output.min_rows=0"]))
        assert server.count == 0
    assert result.accounting.rows_written == 0
    assert result.accounting.rows_rejected == (15 if extra else 0)
    assert not any(result.report["judge"]["histogram"].values())


def test_api_key_reaches_the_endpoint_and_no_output_or_log(tmp_path):
    """A real ``sftforge run`` in its own process (so its Ray workers inherit the key from the env)."""
    key = "sk-e2e-" + secrets.token_hex(12)
    with OpenAITestServer(reply=judgement) as server:
        path = write_job(tmp_path, server.url)
        proc = subprocess.run(
            [sys.executable, "-m", "sftforge.jobs.cli", "-v", "run", str(path)],
            capture_output=True, text=True, timeout=600, check=False, cwd=Path(__file__).resolve().parents[3],
            env={**os.environ, "SFTFORGE_E2E_KEY": key, "RAY_AUTH_MODE": "disabled"},
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert server.count == 16 and all(entry.authorization == f"Bearer {key}" for entry in server.log)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "job.yaml"]
    assert any("llm-cache" in p.parts for p in files) and any(p.name == "manifest.json" for p in files)
    for file in files:
        assert key.encode() not in file.read_bytes(), f"API key found in {file}"
    assert key not in proc.stdout and key not in proc.stderr


def test_judge_without_llm_is_skipped_with_one_line(ray_session, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_job(tmp_path, "http://127.0.0.1:9/v1")
    data = yaml.safe_load(path.read_text())
    del data["llm"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = run_job(load_config(path))
    assert result.report["judge"] == {"skipped": "judge skipped: no 'llm' endpoint is configured"}
    assert result.accounting.as_dict()["rows_written"] == 15
