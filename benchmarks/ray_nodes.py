"""A local multi-node Ray cluster for benchmarks, run as a child program.

The cluster is ``python -m tests.support.ray_cluster`` (run from the repository root); this module starts
it, reads the address it prints and closes its stdin to stop it: nothing from ``tests`` is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parents[1]


class RayNodes:
    """``nodes`` ``ray start`` nodes on 127.0.0.1 with ``cpus_per_node`` CPUs each."""

    def __init__(self, nodes: int, cpus_per_node: int = 1, object_store_bytes: int = 1 << 30,
                 pin_cores: bool = False):
        self.args = ["--nodes", str(nodes), "--cpus-per-node", str(cpus_per_node),
                     "--object-store-bytes", str(object_store_bytes), *(["--pin-cores"] if pin_cores else [])]
        self.process: subprocess.Popen | None = None
        self.address = ""

    def env(self) -> dict[str, str]:
        """Environment for a driver joining the cluster (the nodes run without token auth)."""
        return dict(os.environ, RAY_ADDRESS=self.address, RAY_AUTH_MODE="disabled",
                    PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")

    def __enter__(self) -> Self:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.support.ray_cluster", *self.args],
                                        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip()
        if not line.startswith("ADDRESS "):
            self.process.kill()
            raise RuntimeError(f"the Ray cluster program did not start: {line!r}")
        self.address = line.split(" ", 1)[1]
        return self

    def __exit__(self, *exc_info) -> None:
        if self.process is None:
            return
        self.process.stdin.close()  # the program stops its nodes when its stdin closes
        try:
            self.process.wait(120)
        except subprocess.TimeoutExpired:
            self.process.kill()
