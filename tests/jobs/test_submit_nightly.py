"""Three nights of ``sftforge submit --refresh`` to a two-node Ray cluster on 127.0.0.1.

Night 1 drops two shards; night 2 adds one and changes one; night 3 removes one, and is submitted again.
The judge (an LLM call per fresh row) runs against a real OpenAI-protocol server, whose request count
shows that carried rows are never judged again. Releases go to a folder both nodes share.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.jobs.test_cluster_submit import _free_port, _wait_for_dashboard
from tests.support.openai_server import OpenAITestServer

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def _ports() -> list[str]:
    return [f"--dashboard-agent-listen-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}",
            f"--runtime-env-agent-port={_free_port()}", f"--metrics-export-port={_free_port()}"]


def _stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def two_nodes(tmp_path):
    """A head (1 CPU, resource ``head``) and a second node (2 CPUs, resource ``second``) on 127.0.0.1."""
    gcs, dashboard = _free_port(), _free_port()
    # A loaded machine starts the dashboard agent slowly; the raylet gives up on it after 15 s by default.
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_agent_register_timeout_ms="180000",
               RAY_raylet_start_wait_time_s="180",
               PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    temp_dir = tempfile.mkdtemp(prefix="sftf-ray-", dir="/tmp")
    logs, nodes = [], []
    try:
        log = open(tmp_path / "head.log", "w")
        logs.append(log)
        nodes.append(subprocess.Popen(
            [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs}",
             "--num-cpus=1", '--resources={"head": 1}', "--dashboard-host=127.0.0.1",
             f"--dashboard-port={dashboard}", f"--ray-client-server-port={_free_port()}",
             f"--temp-dir={temp_dir}", "--disable-usage-stats", *_ports()],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        _wait_for_dashboard(dashboard, nodes[0])
        log = open(tmp_path / "second.log", "w")
        logs.append(log)
        nodes.append(subprocess.Popen(
            [str(BIN / "ray"), "start", "--block", f"--address=127.0.0.1:{gcs}", "--node-ip-address=127.0.0.1",
             "--num-cpus=2", '--resources={"second": 1}', "--disable-usage-stats", *_ports()],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        yield f"http://127.0.0.1:{dashboard}", env
    finally:
        for node in reversed(nodes):
            _stop(node)
        for log in logs:
            log.close()
            # Shown by pytest when the test fails: why a node went away.
            print(f"--- {log.name}", *Path(log.name).read_text(errors="replace").splitlines()[-8:], sep="\n")
        shutil.rmtree(temp_dir, ignore_errors=True)


def judgement(body: dict):
    part = {"score": 5, "rationale": "scripted"}
    return {"harmless": part, "honest": part, "helpful": part, "overall": 5}


def _drop(path: Path, start: int, count: int, tag: str) -> None:
    rows = [{"instruction": f"{tag} question {i}: where do rivers go?", "output": f"{tag} answer {i}: to the sea."}
            for i in range(start, start + count)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _submit(address: str, env: dict, config: Path, date: str, *extra: str) -> subprocess.CompletedProcess:
    command = [str(BIN / "sftforge"), "submit", str(config), f"--address={address}", "--refresh",
               f"--date={date}", *extra]
    for _attempt in range(20):
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=480)
        if "No available agent" not in proc.stdout + proc.stderr:  # the agent registers after the dashboard
            return proc
        time.sleep(3)
    return proc


def _lines(release: Path) -> set[str]:
    return {line for path in release.rglob("*.jsonl") if "carry" not in path.parts
            for line in path.read_text(encoding="utf-8").splitlines()}


def _nodes_used(address: str) -> int:
    from ray.util.state import list_tasks

    tasks = list_tasks(address=address, limit=10000, raise_on_missing_output=False)
    return len({task.node_id for task in tasks if task.node_id})


def test_three_nights_on_two_nodes(two_nodes, tmp_path):
    address, env = two_nodes
    drops, releases = tmp_path / "drops", tmp_path / "releases"
    drops.mkdir()
    _drop(drops / "a.jsonl", 0, 12, "alpha")
    _drop(drops / "b.jsonl", 0, 12, "beta")
    with OpenAITestServer(reply=judgement) as server:
        config = tmp_path / "job.yaml"
        config.write_text(yaml.safe_dump({
            "inputs": [{"path": str(drops / "*.jsonl"), "kind": "instruction", "name": "drops"}],
            "output": {"dir": str(releases), "shard_rows": 10},
            "dedup": {"against": "auto"},
            "split": {"ratios": {"train": 0.75, "test": 0.25}},
            "llm": {"base_url": server.url, "model": "test-model", "api_key_env": None, "timeout_s": 10},
            "judge": {"threshold": 4, "workers": 1},
        }), encoding="utf-8")

        nights = {}
        for date, prepare in (
            ("2026-12-01", lambda: None),
            ("2026-12-02", lambda: (_drop(drops / "c.jsonl", 0, 6, "gamma"), _drop(drops / "b.jsonl", 0, 14, "beta"))),
            ("2026-12-03", lambda: (drops / "a.jsonl").unlink()),
        ):
            prepare()
            before = server.count
            proc = _submit(address, env, config, date)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            assert f"sftforge-{date}" in proc.stdout
            nights[date] = (json.loads((releases / date / "manifest.json").read_text()), server.count - before)

        duplicate = _submit(address, env, config, "2026-12-03")
        assert duplicate.returncode != 0 and "--rerun" in duplicate.stderr
        night3_lines = _lines(releases / "2026-12-03")
        before = server.count
        rerun = _submit(address, env, config, "2026-12-03", "--rerun")
        assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
        assert "sftforge-2026-12-03-r2" in rerun.stdout
        assert server.count == before  # 0 LLM calls: every row carried over
        assert _lines(releases / "2026-12-03") == night3_lines

    (m1, calls1), (m2, calls2), (m3, calls3) = nights.values()
    assert calls1 == 24 and m1["accounting"]["rows_read"] == 24
    assert calls2 == 20  # c's 6 and the changed b's 14; a's 12 carried
    assert m2["accounting"]["rows_carried"] == 12 and m2["accounting"]["dropped"]["changed_files"] == 12
    assert calls3 == 0 and m3["accounting"]["rows_carried"] == 20
    assert m3["accounting"]["dropped"]["vanished_files"] == 12
    for manifest in (m1, m2, m3):
        acc = manifest["accounting"]
        assert acc["rows_read"] + acc["rows_carried"] == acc["rows_written"] + acc["rows_rejected"]
    assert m3["rows"]["written"] == 20
    alpha = {line for line in _lines(releases / "2026-12-01") if "alpha" in line}
    gamma_beta = {line for line in _lines(releases / "2026-12-03")}
    assert len(gamma_beta) == 20
    assert _nodes_used(address) == 2
    assert alpha  # night 1's rows of a were published; night 2 carried them byte for byte:
    assert m2["refresh"]["rows_by_file"][str(drops / "a.jsonl")] == 12
