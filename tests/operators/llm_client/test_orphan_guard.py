"""The orphan guard: a module started under it stops when its parent is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sftforge.operators.llm_client.config import LocalModelConfig
from sftforge.operators.llm_client.local_server import LocalModelServer

ROOT = Path(__file__).resolve().parents[3]

PARENT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-m", "sftforge.operators.llm_client.orphan_guard", str(os.getpid()),
                              "http.server", "0", "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    print(child.pid, flush=True)
    time.sleep(600)
    """
)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie has stopped; only its reaping is left


def test_the_guarded_module_stops_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        time.sleep(1.0)
        assert alive(child), "the guarded module should run while its parent lives"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 30
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(child), "the guarded module outlived its killed parent"
    finally:
        parent.kill()
        parent.wait(10)


def test_the_guard_refuses_a_parent_that_is_already_gone():
    proc = subprocess.run(
        [sys.executable, "-m", "sftforge.operators.llm_client.orphan_guard", "1", "http.server"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode != 0 and "parent process 1 is gone" in proc.stderr


def test_the_local_model_server_runs_under_the_guard():
    command = LocalModelServer(LocalModelConfig(model_path=__file__), alias="m").command()
    assert command[1:5] == [
        "-m", "sftforge.operators.llm_client.orphan_guard", str(os.getpid()),
        "sftforge.operators.llm_client.llama_launch",
    ]
