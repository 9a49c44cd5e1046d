"""The same rows give byte-identical release files on 1 CPU, 2 CPUs and a cluster of two nodes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.jobs.release.test_writer import _final_rows
from tests.support.ray_cluster import LocalRayCluster

REPO = Path(__file__).resolve().parents[3]

_WRITE = textwrap.dedent(
    """
    import json, os, sys
    import ray, ray.data
    from sftforge.jobs.release.writer import ReleaseWriter
    from sftforge.operators.write.formats import OutputConfig
    rows, out, cpus, blocks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
    else:
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    nodes = len([n for n in ray.nodes() if n["Alive"]])
    writer = ReleaseWriter(OutputConfig(dir=out, shard_rows=50), "r1")
    writer.write(ray.data.read_parquet(rows).repartition(blocks))
    writer.publish({})
    print(json.dumps({"nodes": nodes, "cpus": ray.cluster_resources()["CPU"]}))
    """
)


def _tree(release: Path) -> dict[str, str]:
    return {
        p.relative_to(release).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(release.rglob("*"))
        if p.is_file() and p.name not in ("manifest.json", "_SUCCESS")
    }


def _run(rows: Path, out: Path, cpus: int, blocks: int, env: dict[str, str]) -> str:
    env = {**env, "PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.run(
        [sys.executable, "-c", _WRITE, str(rows), str(out), str(cpus), str(blocks)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_identical_files_on_one_cpu_two_cpus_and_two_nodes(tmp_path):
    rows = tmp_path / "rows.parquet"
    pq.write_table(_final_rows(900), rows)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    assert '"cpus": 1.0' in _run(rows, tmp_path / "one", 1, 3, env)
    assert '"cpus": 2.0' in _run(rows, tmp_path / "two", 2, 8, env)
    with LocalRayCluster(nodes=2, cpus_per_node=1, log_dir=tmp_path) as cluster:
        assert '"nodes": 2' in _run(rows, tmp_path / "nodes", 1, 5, cluster.env())
    one = _tree(tmp_path / "one" / "r1")
    assert len(one) > 20
    assert one == _tree(tmp_path / "two" / "r1") == _tree(tmp_path / "nodes" / "r1")
