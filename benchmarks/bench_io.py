"""Rows/s of read -> clean -> split -> write inside Ray, against pyarrow reading and writing the same files.

Both run in this process, alternately, on the same generated Parquet shards; the ratio of their rows/s
is what to compare across machines (absolute times on a shared machine are noise).

    python benchmarks/bench_io.py [--rows 200000] [--shards 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EN_WORDS = ("river valley sediment farmers harvest flood levee canal reservoir engineer city delta water "
            "bread flour yeast dough oven crust library student language grammar heart signal panel").split()
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


def run_baseline(paths: list[Path], out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    rows = 0
    for index, path in enumerate(paths):
        table = pq.read_table(path)
        pq.write_table(table, out / f"part-{index:05d}.parquet")
        rows += table.num_rows
    return rows


def run_pipeline(folder: Path, out: Path, release: str) -> int:
    from sftforge.jobs.config import JobConfig
    from sftforge.jobs.pipeline import run_job

    config = JobConfig.model_validate({
        "release": release,
        "inputs": [{"path": str(folder), "kind": "document"}],
        "output": {"dir": str(out), "file_formats": ["parquet"], "shard_rows": 100_000},
        "split": {"ratios": {"train": 0.9, "test": 0.1}},
    })
    result = run_job(config)
    return result.accounting.rows_read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = root / "inputs"
        inputs.mkdir()
        paths = make_shards(inputs, args.rows, args.shards)
        size = sum(path.stat().st_size for path in paths)
        print(f"{args.rows} rows in {args.shards} shards, {size / 1e6:.1f} MB")
        baseline, pipeline = [], []
        for repeat in range(args.repeats):
            start = time.perf_counter()
            rows = run_baseline(paths, root / f"baseline-{repeat}")
            baseline.append(rows / (time.perf_counter() - start))
            start = time.perf_counter()
            rows = run_pipeline(inputs, root / "releases", f"bench-{repeat}")
            pipeline.append(rows / (time.perf_counter() - start))
            print(f"  run {repeat}: pyarrow {baseline[-1]:,.0f} rows/s, sftforge {pipeline[-1]:,.0f} rows/s")
        base, ours = statistics.median(baseline), statistics.median(pipeline)
        print(f"pyarrow read+write alone: {base:,.0f} rows/s (median)")
        print(f"sftforge read->clean->split->write in Ray: {ours:,.0f} rows/s (median)")
        print(f"ratio sftforge / pyarrow: {ours / base:.3f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
