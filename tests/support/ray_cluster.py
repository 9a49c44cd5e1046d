"""A Ray cluster of several ``ray start`` nodes on 127.0.0.1, each with its own ports.

Usage::

    with LocalRayCluster(nodes=2, cpus_per_node=1) as cluster:
        env = cluster.env()                 # RAY_ADDRESS and RAY_AUTH_MODE for drivers and `ray` commands
        subprocess.run([...], env=env)

Every node runs in its own process group, so exactly these processes are stopped on exit (``ray stop``
would stop every Ray runtime on the machine). The nodes share one short ``--temp-dir`` (Unix socket paths
are limited to 107 bytes).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_ports() -> list[str]:
    # Every agent port explicit: the defaults (52365 above all) clash with other runtimes on the host.
    return [f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}",
            f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}"]


class LocalRayCluster:
    """``nodes`` Ray nodes (the first is the head) with ``cpus_per_node`` CPUs each."""

    def __init__(self, nodes: int = 2, cpus_per_node: int = 1, object_store_bytes: int = 400 << 20,
                 log_dir: str | os.PathLike | None = None, start_timeout: float = 180, pin_cores: bool = False):
        self.nodes = nodes
        # Node k's processes on core k only (benchmarks): a task asks for half a CPU, so a "1 CPU" node
        # would otherwise run two tasks at once on two cores and a scaling figure would compare nothing.
        self.pin_cores = pin_cores
        self.cpus_per_node = cpus_per_node
        self.object_store_bytes = object_store_bytes
        self.start_timeout = start_timeout
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp_dir = tempfile.mkdtemp(prefix="sftf-rc-", dir="/tmp")
        self.log_dir = Path(log_dir or self.temp_dir)
        self._processes: list[subprocess.Popen] = []

    def env(self) -> dict[str, str]:
        return dict(os.environ, RAY_ADDRESS=self.address, RAY_AUTH_MODE="disabled", RAY_raylet_start_wait_time_s="180",
                    PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")

    def _start(self, args: list[str], name: str) -> None:
        cores = sorted(os.sched_getaffinity(0))
        core = cores[len(self._processes) % len(cores)]
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 - kept open while the node runs
        env = dict(self.env())
        env.pop("RAY_ADDRESS")
        self._processes.append(subprocess.Popen(
            [*(["taskset", "-c", str(core)] if self.pin_cores else []), str(BIN / "ray"), "start", "--block", "--node-ip-address=127.0.0.1",
             f"--num-cpus={self.cpus_per_node}", f"--object-store-memory={self.object_store_bytes}",
             f"--temp-dir={self.temp_dir}", "--disable-usage-stats", *_node_ports(), *args],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))

    def __enter__(self) -> Self:
        # Ray gives a node 30 s to register; on a loaded machine that can pass, so start again (fresh ports).
        for attempt in range(3):
            try:
                self._start(["--head", f"--port={self.port}", "--include-dashboard=false",
                             f"--ray-client-server-port={free_port()}"], "head")
                for index in range(1, self.nodes):
                    self._start([f"--address={self.address}"], f"node-{index}")
                self._wait()
                return self
            except RuntimeError:
                self._stop_nodes()
                if attempt == 2:
                    shutil.rmtree(self.temp_dir, ignore_errors=True)
                    raise
                self.port = free_port()
                self.address = f"127.0.0.1:{self.port}"
            except BaseException:
                self.__exit__(None, None, None)
                raise
        return self

    def _wait(self) -> None:
        code = (
            "import ray, time\n"
            f"ray.init(address='{self.address}', log_to_driver=False)\n"
            f"while len([n for n in ray.nodes() if n['Alive']]) < {self.nodes}: time.sleep(0.5)\n"
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            for process in self._processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a ray node exited with {process.returncode}; see {self.log_dir}")
            try:
                subprocess.run([sys.executable, "-c", code], env=self.env(), check=True, timeout=60,
                               capture_output=True)
                return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the Ray cluster did not come up; see {self.log_dir}") from None
                time.sleep(2)

    def __exit__(self, *exc_info) -> None:
        self._stop_nodes()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def _stop_nodes(self) -> None:
        for process in reversed(self._processes):
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            try:
                os.killpg(process.pid, signal.SIGKILL)  # stragglers that ignored SIGTERM (gcs_server)
            except ProcessLookupError:
                pass
        self._processes.clear()


def main() -> None:
    """Runs a cluster as a program for benchmarks: prints its address, holds it until stdin closes."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--cpus-per-node", type=int, default=1)
    parser.add_argument("--object-store-bytes", type=int, default=400 << 20)
    parser.add_argument("--pin-cores", action="store_true", help="node k's processes on core k only")
    args = parser.parse_args()
    with LocalRayCluster(args.nodes, args.cpus_per_node, args.object_store_bytes, pin_cores=args.pin_cores) as cluster:
        print(f"ADDRESS {cluster.address}", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
