"""End-to-end speed of ``sftforge run`` (read -> clean -> split -> write Parquet + JSONL) against a plain script.

Printed side by side in one run, on the same generated Parquet shards (~500 bytes of text a row):

1. ``sftforge run`` against the plain baseline: 2 processes, each reading its half of the shards with
   pyarrow, calling the same ``TextCleaner.clean`` and writing Parquet + JSON lines. Both are timed end to
   end as a user would (process start-up included); the ratio of their rows/s is what to compare across
   machines (absolute times on a shared machine are noise). Target >= 0.5.
2. The driver process's own CPU seconds (``/proc/<pid>/stat``, sampled until it exits) and its peak RSS
   (``VmHWM``). Target <= 7 s at 1M rows.
3. Scaling: the same job on a cluster of two ``ray start`` nodes with 1 CPU each against one node with
   1 CPU (cluster start-up excluded), each node's processes pinned to a core of its own (a task asks
   for half a CPU, so an unpinned "1 CPU" node runs two tasks on two cores). Target >= 1.6x.

    python benchmarks/bench_io.py [--rows 1000000] [--shards 16] [--skip-scaling]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

EN_WORDS = ["river", "valley", "sediment", "farmers", "harvest", "flood", "levee", "canal", "reservoir", "engineer", "city", "delta", "water", "bread", "flour", "yeast", "dough", "oven", "crust", "library", "student", "language", "grammar", "heart", "signal", "panel"]
ZH_TEXT = "长江流域气候温和雨量充沛自古以来就是重要的农业区被誉为鱼米之乡图书馆不仅是借书的地方也是城市里重要的公共空间"


def make_shards(folder: Path, rows: int, shards: int, seed: int = 7) -> list[Path]:
    """Writes ``shards`` Parquet files of ~500-byte documents, a quarter Chinese, some with HTML."""
    rng = random.Random(seed)
    paths = []
    per_shard = rows // shards
    for shard in range(shards):
        texts = []
        for _ in range(per_shard):
            if rng.random() < 0.25:
                start = rng.randrange(len(ZH_TEXT) - 40)
                text = "".join(ZH_TEXT[start:start + 40] for _ in range(4))
            else:
                text = " ".join(rng.choice(EN_WORDS) for _ in range(80)) + "."
            if rng.random() < 0.2:
                text = f"<p>{text}</p><p>Share this article</p>"
            texts.append(text)
        path = folder / f"shard-{shard:03d}.parquet"
        pq.write_table(pa.table({"text": texts}), path)
        paths.append(path)
    return paths


_BASELINE = """
import json, sys
from pathlib import Path
import pyarrow as pa, pyarrow.parquet as pq
from sftforge.operators.clean.cleaner import TextCleaner
out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
cleaner = TextCleaner()
for path in sys.argv[2:]:
    texts = [cleaner.clean(t) for t in pq.read_table(path).column("text").to_pylist()]
    texts = [t for t in texts if t]
    name = Path(path).stem
    pq.write_table(pa.table({"text": texts}), out / f"{name}.parquet")
    with open(out / f"{name}.jsonl", "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps({"text": t}, ensure_ascii=False) + "\\n" for t in texts)
"""


def run_baseline(paths: list[Path], out: Path) -> float:
    """Seconds for 2 plain processes, each cleaning and writing its half of the shards."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _BASELINE, str(out), *map(str, paths[half::2])], env=env)
             for half in range(2)]
    if any(proc.wait() for proc in procs):
        raise RuntimeError("the baseline failed")
    return time.perf_counter() - start


def _proc_sample(pid: int) -> tuple[float, int] | None:
    """(CPU seconds, peak RSS bytes) of a live process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM")), 0)
    return cpu, peak


def run_sftforge(data: Path, out: Path, release: str, env: dict[str, str], num_cpus: int | None = 2
                 ) -> tuple[float, float, int]:
    """Seconds, driver CPU seconds and driver peak RSS of one ``sftforge run``."""
    config = out.parent / f"{release}.yaml"
    job = {
        "release": release,
        "inputs": [{"path": str(data), "kind": "document"}],
        "output": {"dir": str(out), "shard_rows": 100_000, "file_formats": ["parquet", "jsonl"]},
        "split": {"ratios": {"train": 0.9, "test": 0.1}},
    }
    if num_cpus:
        job["ray"] = {"num_cpus": num_cpus}
    config.write_text(yaml.safe_dump(job), encoding="utf-8")
    start = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "sftforge"), "run", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    last = (0.0, 0)
    while proc.poll() is None:
        sample = _proc_sample(proc.pid)
        if sample and sample[1]:  # a zombie has no VmHWM and no more CPU to add
            last = (max(last[0], sample[0]), max(last[1], sample[1]))
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"sftforge run failed: {proc.stderr.read()[-2000:]}")
    return elapsed, last[0], last[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    # A loaded machine can take longer than the 30 s Ray gives a node to register.
    env.update(RAY_AUTH_MODE="disabled", PYTHONPATH=str(ROOT), RAY_raylet_start_wait_time_s="180")
    with tempfile.TemporaryDirectory(prefix="bench-io-") as tmp:
        folder = Path(tmp)
        (folder / "data").mkdir()
        paths = make_shards(folder / "data", args.rows, args.shards)
        rows = sum(pq.read_metadata(p).num_rows for p in paths)
        megabytes = sum(p.stat().st_size for p in paths) / 1e6
        baseline = run_baseline(paths, folder / "baseline")
        seconds, driver_cpu, driver_peak = run_sftforge(folder / "data", folder / "releases", "bench", env)
        print(f"{rows} rows, {args.shards} shards ({megabytes:.0f} MB Parquet)")
        print(f"{'':28}{'seconds':>10}{'rows/s':>10}")
        print(f"{'plain script, 2 processes':28}{baseline:>10.1f}{rows / baseline:>10.0f}")
        print(f"{'sftforge run, 2 CPUs':28}{seconds:>10.1f}{rows / seconds:>10.0f}")
        print(f"ratio sftforge / plain: {baseline / seconds:.2f} (target >= 0.5)")
        print(f"driver CPU seconds: {driver_cpu:.1f} (target <= 7 at 1M rows); "
              f"driver peak RSS: {driver_peak / 2**20:.0f} MiB")
        if args.skip_scaling:
            return
        from ray_nodes import RayNodes

        times = {}
        for nodes in (1, 2):
            with RayNodes(nodes=nodes, cpus_per_node=1, object_store_bytes=1 << 30, pin_cores=True) as cluster:
                cluster_env = {**cluster.env(), "PYTHONPATH": str(ROOT)}
                times[nodes] = run_sftforge(folder / "data", folder / f"nodes-{nodes}", "bench", cluster_env,
                                            num_cpus=None)[0]
        print(f"one node x 1 CPU: {times[1]:.1f} s; two nodes x 1 CPU: {times[2]:.1f} s; "
              f"scaling {times[1] / times[2]:.2f}x (target >= 1.6)")


if __name__ == "__main__":
    main()
