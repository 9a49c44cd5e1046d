"""The same rows give byte-identical release files on 1 CPU, 2 CPUs and a cluster of two nodes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sftforge.operators import schema

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
    # Ray's raylet may print its own warnings to the driver's stdout: the script's line is the JSON one.
    return next(line for line in reversed(proc.stdout.splitlines()) if line.startswith('{"nodes"'))


@pytest.mark.slow
def test_identical_files_on_one_cpu_two_cpus_and_two_nodes(tmp_path):
    rows = tmp_path / "rows.parquet"
    pq.write_table(_sparse(_final_rows(900)), rows)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    assert '"cpus": 1.0' in _run(rows, tmp_path / "one", 1, 3, env)
    assert '"cpus": 2.0' in _run(rows, tmp_path / "two", 2, 8, env)
    with LocalRayCluster(nodes=2, cpus_per_node=1, log_dir=tmp_path) as cluster:
        assert '"nodes": 2' in _run(rows, tmp_path / "nodes", 1, 5, cluster.env())
    one = _tree(tmp_path / "one" / "r1")
    assert len(one) > 20
    assert one == _tree(tmp_path / "two" / "r1") == _tree(tmp_path / "nodes" / "r1")
    # The rare values' witnesses head the first shard; most other shards hold none of them.
    shards = sorted((tmp_path / "one" / "r1" / "jsonl" / "train").glob("*.jsonl"))
    records = [[json.loads(line) for line in shard.read_text().splitlines()] for shard in shards]
    head = records[0][:3]
    assert any(r[schema.QUALITY_SCORE] is not None for r in head)
    assert any(r[schema.GEN_JUDGE_SCORE] is not None for r in head)
    assert sum(all(r[schema.GEN_JUDGE_SCORE] is None for r in shard) for shard in records) > 1


def _sparse(table: pa.Table) -> pa.Table:
    """Quality scores on one row in 37 and judge scores on one in 53: most shards hold none."""
    rows = range(table.num_rows)
    quality = pa.array([i / 900 if i % 37 == 5 else None for i in rows], pa.float64())
    table = table.set_column(table.column_names.index(schema.QUALITY_SCORE), schema.QUALITY_SCORE, quality)
    judge = pa.array([4.5 if i % 53 == 7 else None for i in rows], pa.float64())
    return table.append_column(schema.GEN_JUDGE_SCORE, judge)
