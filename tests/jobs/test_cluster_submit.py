"""`sftforge run` submitted with `ray job submit` to a `ray start --head` on 127.0.0.1.

The head runs in its own process group so that the test can stop exactly it (``ray stop`` would also
stop every other Ray runtime on the machine, the test session's included).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_dashboard(port: int, head: subprocess.Popen, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited with {head.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError("the Ray head's dashboard did not come up")


@pytest.fixture
def ray_head(tmp_path):
    """A Ray head on 127.0.0.1 with its own ports, stopped (its whole process group) afterwards."""
    gcs_port, dashboard_port, client_port = _free_port(), _free_port(), _free_port()
    # Every port explicit: the defaults (the agent's 52365 above all) clash with other Ray runtimes.
    agent_ports = [f"--dashboard-agent-listen-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}",
                   f"--runtime-env-agent-port={_free_port()}", f"--metrics-export-port={_free_port()}"]
    env = dict(os.environ, RAY_AUTH_MODE="disabled", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    log = open(tmp_path / "ray-head.log", "w")
    # Unix socket paths are limited to 107 bytes: pytest's tmp_path is too deep for Ray's session folder.
    temp_dir = tempfile.mkdtemp(prefix="sftf-ray-", dir="/tmp")
    head = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={gcs_port}", "--num-cpus=2", "--dashboard-host=127.0.0.1",
         f"--dashboard-port={dashboard_port}", f"--ray-client-server-port={client_port}",
         f"--temp-dir={temp_dir}", "--disable-usage-stats", *agent_ports],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_for_dashboard(dashboard_port, head)
        yield f"http://127.0.0.1:{dashboard_port}", env
    finally:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            try:
                head.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(head.pid, signal.SIGKILL)  # stragglers that ignored SIGTERM (gcs_server)
        except ProcessLookupError:
            pass
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_run_submitted_to_a_ray_head(ray_head, tmp_path):
    address, env = ray_head
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"instruction": f"Question number {i} about rivers?", "output": f"Answer {i}: rivers flow to the sea."}
            for i in range(20)]
    (data / "pairs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    config = tmp_path / "job.yaml"
    config.write_text(yaml.safe_dump({
        "release": "cluster-test",
        "inputs": [{"path": str(data / "pairs.jsonl"), "kind": "instruction"}],
        "output": {"dir": str(tmp_path / "releases"), "shard_rows": 8},
        "split": {"ratios": {"train": 0.7, "test": 0.3}},
    }), encoding="utf-8")
    command = [str(BIN / "ray"), "job", "submit", f"--address={address}", f"--working-dir={REPO}",
               "--", "sftforge", "run", str(config)]
    for _attempt in range(20):
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=480)
        # The dashboard answers a few seconds before the node's job agent has registered.
        if "No available agent" not in proc.stdout + proc.stderr:
            break
        time.sleep(3)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    release = tmp_path / "releases" / "cluster-test"
    assert (release / "_SUCCESS").exists()
    assert (tmp_path / "releases" / "LATEST").read_text().strip() == "cluster-test"
    manifest = json.loads((release / "manifest.json").read_text())
    accounting = manifest["accounting"]
    assert accounting["rows_read"] == 20
    assert accounting["rows_written"] + accounting["rows_rejected"] == 20
