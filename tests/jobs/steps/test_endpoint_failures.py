"""Endpoint failures are not data: a run whose endpoint fails never publishes the outage as rejected rows.

Against the real chat-completions test server (``tests.support.openai_server``) and, for exit codes, the
real ``sftforge`` command in its own process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sftforge.jobs.config import load_config
from sftforge.jobs.pipeline import run_job
from sftforge.operators import schema
from sftforge.operators.llm_client import EndpointOutage

from tests.jobs.steps.test_llm import judgement, write_job
from tests.support.openai_server import (
    SERVER_ERROR,
    OpenAITestServer,
    always,
    fault_fraction,
)

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[3]
QUICK = {"max_attempts": 2, "initial_backoff_s": 0.01, "max_backoff_s": 0.05, "max_total_s": 5}


def job(tmp_path: Path, url, **llm) -> Path:
    path = write_job(tmp_path, url)
    data = yaml.safe_load(path.read_text())
    data["llm"].update({"retry": QUICK, **llm})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sftforge.jobs.cli", *args], capture_output=True, text=True, timeout=600,
        check=False, cwd=ROOT, env={**os.environ, "RAY_AUTH_MODE": "disabled", **(env or {})},
    )


def rows(folder: Path) -> list[dict]:
    files = sorted(folder.rglob("*.parquet"))
    return pa.concat_tables([pq.read_table(path) for path in files]).to_pylist() if files else []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_endpoint_down_at_start_fails_in_preflight_naming_the_url(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    proc = cli("run", str(job(tmp_path, url)))
    assert proc.returncode == 1, proc.stderr[-2000:]
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("sftforge: error:")]
    assert url in line and "unreachable" in line
    assert not (tmp_path / "out").exists()  # failed before Ray started or anything was written


def test_a_401_fails_in_preflight_without_the_key(tmp_path):
    key = "sk-preflight-secret-123456"
    with OpenAITestServer(reply=judgement) as server:
        server.settings.api_key = "sk-the-right-key-0000"
        proc = cli("run", str(job(tmp_path, server.url)), env={"SFTFORGE_E2E_KEY": key})
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert key not in proc.stderr and key not in proc.stdout
    line = next(line for line in proc.stderr.splitlines() if line.startswith("sftforge: error:"))
    assert "401" in line and server.url in line
    assert server.count == 0  # no completion was asked for
    assert not (tmp_path / "out").exists()


def test_an_unknown_model_fails_in_preflight(tmp_path):
    from sftforge.operators.llm_client.preflight import EndpointUnavailable, check_endpoint

    with OpenAITestServer(reply=judgement) as server, pytest.raises(EndpointUnavailable) as failure:
        check_endpoint(server.url, "no-such-model", None)
    assert "'no-such-model' is not served" in str(failure.value) and "test-model" in str(failure.value)


def test_an_outage_fails_the_run_publishes_nothing_and_the_rerun_resumes(ray_session, tmp_path):
    with OpenAITestServer(reply=judgement) as server:
        path = job(tmp_path, server.url)
        run_job(load_config(path))  # a first release, that the failed run must leave alone
        latest = (tmp_path / "out" / "LATEST").read_text()
        data = yaml.safe_load(path.read_text())
        data["release"], data["llm"]["cache"] = "r2", str(tmp_path / "llm-cache-2")
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        # Every call but one gets 5xx.
        server.settings.faults = always(SERVER_ERROR, when=lambda request: "Question 1?" not in request.last_user_message())
        with pytest.raises(EndpointOutage) as failure:
            run_job(load_config(path))
        assert failure.value.stage == "judge" and failure.value.reason == "server_error"
        assert (failure.value.failed, failure.value.total) == (14, 15)
        assert not (tmp_path / "out" / "r2").exists()
        assert (tmp_path / "out" / "LATEST").read_text() == latest
        assert len([p for p in (tmp_path / "llm-cache-2").rglob("*") if p.is_file()]) >= 1  # the answer is kept
        server.settings.faults = None
        server.reset()
        result = run_job(load_config(path))
    assert server.count == 15  # 14 failed calls + the repair of the broken reply; the answered one is cached
    assert result.accounting.as_dict()["rows_written"] == 9
    assert (tmp_path / "out" / "LATEST").read_text().strip() == "r2"


def test_on_failure_keep_passes_rows_on_flagged(ray_session, tmp_path):
    with OpenAITestServer(reply=judgement) as server:
        server.settings.faults = always(SERVER_ERROR, when=lambda request: "Question 1?" in request.last_user_message())
        result = run_job(load_config(job(tmp_path, server.url, on_failure="keep")))
    release = result.release_dir
    rejects = rows(release / "rejects")
    assert sorted(r[schema.REJECT_REASON] for r in rejects) == ["judge_below_threshold"] * 5 + ["llm_invalid_json"]
    written = [r for split in ("train", "test") for r in rows(release / "parquet" / split)]
    flagged = [r for r in written if r.get(schema.LLM_UNPROCESSED)]
    assert len(flagged) == 1 and flagged[0][schema.LLM_UNPROCESSED] == "judge:server_error"
    assert result.report["judge"]["unprocessed"] == 1
    assert result.report["judge"]["unprocessed_by_reason"] == {"server_error": 1}


def test_ten_percent_faults_reject_no_row_for_an_endpoint_reason(ray_session, tmp_path):
    with OpenAITestServer(reply=judgement) as server:
        server.settings.faults = fault_fraction(0.1, kinds=("server_error", "rate_limit", "drop", "timeout"))
        server.settings.retry_after = 0.05
        server.settings.hang_s = 2
        result = run_job(load_config(job(tmp_path, server.url, timeout_s=1,
                                         retry={**QUICK, "max_attempts": 4})))
    rejects = rows(result.release_dir / "rejects")
    assert sorted(r[schema.REJECT_REASON] for r in rejects) == ["judge_below_threshold"] * 5 + ["llm_invalid_json"]
    manifest = json.loads((result.release_dir / "manifest.json").read_text())
    assert manifest["accounting"]["rows_written"] == 9


def test_a_budget_that_runs_out_mid_stage_stops_the_run_with_the_reason(tmp_path):
    with OpenAITestServer(reply=judgement) as server:
        path = job(tmp_path, server.url, budget={"max_tokens": 3000}, max_in_flight=1)
        proc = cli("run", str(path))
    assert proc.returncode == 1, proc.stderr[-2000:]
    line = next(line for line in proc.stderr.splitlines() if line.startswith("sftforge: error:"))
    assert "budget_exhausted" in line and "judge" in line
    assert not (tmp_path / "out" / "r1").exists()
    # sftforge's own progress from the start, and none of Ray's hints without -v.
    assert "sftforge: config valid" in proc.stderr and "sftforge: Ray started" in proc.stderr
    assert "DataContext" not in proc.stderr and "core_worker" not in proc.stderr
    assert "logging.cc" not in proc.stderr and "Warning" not in proc.stderr  # Ray's core and API warnings
