"""Nightly refresh against a full run on the same data, as a ratio in one run.

    python benchmarks/bench_refresh.py [--rows 1000000] [--shards 20] [--new 0.05]

Writes ``--shards`` Parquet shards of instruction pairs (``--rows`` in all) to a temporary folder, runs
``sftforge run --refresh`` once over them (the full run: no previous release), then drops ``--new`` of the
shard count as new shards and runs the next night's refresh. The job cleans, dedups (exact and MinHash,
``against: auto``), scores quality and splits. Both runs are timed end to end in this process, with one
Ray runtime for both: its start-up is timed apart and excluded from both. Target: refresh <= 0.15 of the
full run.

Each run's time is also broken into phases (planning, the carried dedup index, the stages with the carry
store, the release write, the publish), timed around sftforge's own functions; Ray is lazy, so the stages
run inside "stages + carry store" where the final rows are materialised, except dedup, whose step
materialises its input and runs its shuffles in "step dedup (run)" ("input" in its own seconds per
step is the read and the stages before it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYLLABLES = ["ka", "lo", "mi", "re", "su", "ta", "ne", "vo", "ri", "pa", "del", "mon", "sar", "tek", "bul", "fin", "gor", "hal"]
#: 5,832 made-up words: rows drawn from them share few MinHash band buckets, as rows of a real corpus
#: do (a vocabulary of a few dozen words makes every row a near-collision of thousands of others).
WORDS = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]


def write_shard(path: Path, start: int, count: int) -> None:
    import random

    instructions, outputs = [], []
    for i in range(start, start + count):
        words = random.Random(i).choices(WORDS, k=24)
        instructions.append(f"Explain item {i}: why does the {words[0]} meet the {words[1]}?")
        outputs.append(f"Item {i}. " + " ".join(words) + f". The {words[2]} and the {words[3]} explain it well.")
    pq.write_table(pa.table({"instruction": instructions, "output": outputs}), path)


PHASES = {
    "plan (lock, fingerprints)": ("sftforge.jobs.refresh.session", "RefreshSession", "prepare"),
    "carried dedup index": ("sftforge.jobs.refresh.session", "RefreshSession", "resolve_against"),
    "read planning": ("sftforge.jobs.pipeline", None, "read_inputs"),
    "stats actor": ("sftforge.jobs.pipeline", None, "start_stats_actor"),
    "stages + carry store": ("sftforge.jobs.refresh.session", "RefreshSession", "finish_rows"),
    "release write": ("sftforge.jobs.release.writer", "ReleaseWriter", "write"),
    "copied segments": ("sftforge.jobs.release.writer", "ReleaseWriter", "adopt"),
    "report": ("sftforge.jobs.pipeline", None, "write_report"),
    "refresh manifest": ("sftforge.jobs.refresh.session", "RefreshSession", "manifest"),
    "publish": ("sftforge.jobs.release.writer", "ReleaseWriter", "publish"),
    "  of dedup: its index write": ("sftforge.jobs.dedup.workflow", "DedupRun", "write_index"),
    "  of dedup: its report": ("sftforge.jobs.dedup.workflow", "DedupRun", "summary"),
}


def time_phases() -> dict[str, float]:
    """Wraps the phases' functions (and each step's ``run``) with timers; returns where they add up."""
    import importlib

    from sftforge.jobs.pipeline import STEPS

    spent: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started
        return wrapper

    for name, (module, owner_name, attr) in PHASES.items():
        owner = importlib.import_module(module)
        owner = getattr(owner, owner_name) if owner_name else owner
        setattr(owner, attr, timed(name, getattr(owner, attr)))
    for step in STEPS:
        PHASES.setdefault(f"step {step.key} (run)", None)
        step.run = timed(f"step {step.key} (run)", step.run)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--new", type=float, default=0.05, help="new shards as a share of --shards")
    args = parser.parse_args()
    import logging

    # run_dedup logs its own seconds per step (input, keys, decisions) at INFO.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    logging.getLogger("sftforge.dedup").addHandler(handler)
    logging.getLogger("sftforge.dedup").setLevel(logging.INFO)

    import ray
    from sftforge.jobs.config import load_config
    from sftforge.jobs.refresh import run_refresh

    per_shard = args.rows // args.shards
    new_shards = max(1, round(args.shards * args.new))
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp:
        tmp = Path(tmp)
        drops = tmp / "drops"
        drops.mkdir()
        for shard in range(args.shards):
            write_shard(drops / f"shard-{shard:04d}.parquet", shard * per_shard, per_shard)
        config_path = tmp / "job.yaml"
        config_path.write_text(json.dumps({
            "inputs": [{"path": str(drops / "*.parquet"), "kind": "instruction"}],
            "output": {"dir": str(tmp / "releases")},
            "dedup": {"against": "auto"},
            "quality": {},
            "split": {"ratios": {"train": 0.98, "validation": 0.01, "test": 0.01}},
        }))
        config = load_config(config_path)
        spent = time_phases()
        started = time.perf_counter()
        ray.init(address="local", include_dashboard=False, log_to_driver=False)
        ray_s = time.perf_counter() - started
        started = time.perf_counter()
        full = run_refresh(config, date="2026-12-01")
        full_s = time.perf_counter() - started
        full_phases = dict(spent)
        spent.clear()
        for shard in range(args.shards, args.shards + new_shards):
            write_shard(drops / f"shard-{shard:04d}.parquet", shard * per_shard, per_shard)
        started = time.perf_counter()
        refresh = run_refresh(config, date="2026-12-02")
        refresh_s = time.perf_counter() - started
        ray.shutdown()
    print(f"rows {args.rows:,} in {args.shards} shards; night 2 adds {new_shards} shard(s) "
          f"({new_shards * per_shard:,} rows)")
    print(f"full run     {full_s:8.1f} s  (read {full.accounting.rows_read:,})")
    print(f"refresh      {refresh_s:8.1f} s  (read {refresh.accounting.rows_read:,})")
    print(f"ratio        {refresh_s / full_s:8.3f}  (target <= 0.15)")
    print(f"Ray start-up {ray_s:8.1f} s  (once, before both; in neither figure)")
    print(f"{'phase':28s} {'full':>8s} {'refresh':>8s}")
    for name in PHASES:
        print(f"{name:28s} {full_phases.get(name, 0):8.1f} {spent.get(name, 0):8.1f}")
    other_full = full_s - sum(v for k, v in full_phases.items() if not k.startswith("  of"))
    other_refresh = refresh_s - sum(v for k, v in spent.items() if not k.startswith("  of"))
    print(f"{'other (driver, LLM, report)':28s} {other_full:8.1f} {other_refresh:8.1f}")


if __name__ == "__main__":
    main()
