"""Dedup at scale: N generated ~1 KB documents with planted duplicates, end to end on local Ray.

For each size in ``--rows`` (default 1,000,000 and 2,000,000): generate the documents inside Ray (no row
passes through the driver), run ``run_dedup`` with the default config, write the output as Parquet to a
temporary folder, and report the wall time (generation and writing included; after an unreported
20,000-row warm-up so that worker start-up is not in the first size's time), the peak memory of this
process and every process it started (Ray's GCS, raylet, workers; proportional set size, so the object
store's shared pages count once), and the time ratio of each size to the first. The output is checked:
every planted exact duplicate must be dropped by ``dedup.exact`` and the planted near duplicates by
``dedup.near`` (all rows accounted for).

Documents: 170 words drawn from a 20,000-word Zipf vocabulary (about 1,000 characters). Every 10th row
(``i % 10 == 3``) is an exact duplicate of row ``i - 3`` up to case and punctuation; every 10th row
(``i % 10 == 6``) a near duplicate of row ``i - 6`` with 2 of its words replaced (5-gram Jaccard about
0.89). Generation is vectorised and deterministic (a hash of row and position picks each word).

    python benchmarks/bench_dedup_scale.py [--quick] [--rows 1000000 2000000] [--cpus 2] [--keep-output]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import ray
from sftforge.jobs.dedup import DedupConfig, run_dedup
from sftforge.operators import schema
from sftforge.operators.dedup.hashing import fmix64

VOCABULARY = 20_000
WORDS_PER_DOC = 170
NEAR_EDITS = 2
EDIT_TOKENS = 100_000


def _vocabulary() -> tuple[pa.Array, np.ndarray]:
    """Random words (then edit tokens, never drawn for base texts) and the Zipf CDF of the words."""
    rng = np.random.default_rng(2024)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 10, size=VOCABULARY)
    words = ["".join(rng.choice(letters, size=n)) for n in lengths]
    words += [f"edit{k}" for k in range(EDIT_TOKENS)]
    weights = 1.0 / np.arange(1, VOCABULARY + 1, dtype=np.float64)
    return pa.array(words, type=pa.string()), np.cumsum(weights) / weights.sum()


_CACHE: dict[str, tuple[pa.Array, np.ndarray]] = {}


def _uniform(seeds: np.ndarray) -> np.ndarray:
    return (fmix64(seeds.astype(np.uint64)) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def generate(batch: dict[str, np.ndarray]) -> pa.Table:
    """Rows ``batch['id']``: documents, with planted exact and near duplicates (vectorised, deterministic)."""
    if "vocabulary" not in _CACHE:
        _CACHE["vocabulary"] = _vocabulary()
    words, cdf = _CACHE["vocabulary"]
    rows = batch["id"].astype(np.int64)
    kind = rows % 10
    base = np.where(kind == 3, rows - 3, np.where(kind == 6, rows - 6, rows))
    cells = base[:, None] * WORDS_PER_DOC + np.arange(WORDS_PER_DOC)[None, :]
    picks = np.minimum(np.searchsorted(cdf, _uniform(cells)), VOCABULARY - 1)
    near = np.flatnonzero(kind == 6)
    for edit in range(NEAR_EDITS):
        seeds = rows[near] * 7919 + edit + (1 << 40)
        positions = (_uniform(seeds) * WORDS_PER_DOC).astype(np.int64)
        picks[near, positions] = VOCABULARY + (_uniform(seeds + (1 << 41)) * EDIT_TOKENS).astype(np.int64)
    offsets = pa.array(np.arange(0, picks.size + 1, WORDS_PER_DOC, dtype=np.int32))
    texts = pc.binary_join(pa.ListArray.from_arrays(offsets, words.take(pa.array(picks.ravel()))), " ")
    exact = pa.array(kind == 3)
    texts = pc.if_else(exact, pc.binary_join_element_wise(pc.utf8_upper(texts), "!", ""), texts)
    ids = [hashlib.blake2b(text, digest_size=16).hexdigest() for text in _utf8(texts)]
    return pa.table(
        {
            schema.DOC_ID: ids,
            schema.KIND: pa.array([schema.KIND_DOCUMENT] * len(rows)),
            schema.SOURCE_FILE: pa.array(["generated"] * len(rows)),
            schema.SOURCE_ROW: pa.array(rows, type=pa.int64()),
            schema.TEXT: texts,
        }
    )


def _utf8(texts: pa.Array) -> list[memoryview]:
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32, count=len(texts) + 1, offset=texts.offset * 4)
    data = memoryview(texts.buffers()[2])
    return [data[begin:end] for begin, end in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]


def _tree_pss_bytes(root: int) -> int:
    """Proportional set size of ``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


class PeakMemory:
    """Samples the process tree's PSS every ``interval`` seconds in a thread."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_pss_bytes(os.getpid()))
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_pss_bytes(os.getpid()))


def _stage_counts(batch: pa.Table) -> pa.Table:
    stage = np.array(batch.column(schema.REJECT_STAGE).to_pylist(), dtype=object)
    return pa.table(
        {
            "rows": [batch.num_rows],
            "exact": [int(np.count_nonzero(stage == "dedup.exact"))],
            "near": [int(np.count_nonzero(stage == "dedup.near"))],
        }
    )


def run_once(ray, rows: int, blocks: int, output: Path, single_task_rows: int | None) -> dict:
    config = DedupConfig() if single_task_rows is None else DedupConfig(single_task_rows=single_task_rows)
    started = time.perf_counter()
    with PeakMemory() as memory:
        ds = ray.data.range(rows, override_num_blocks=blocks).map_batches(generate, batch_format="numpy")
        run = run_dedup(ds, config)
        run.dataset.write_parquet(str(output))
        wall = time.perf_counter() - started
    counts = ray.data.read_parquet(str(output)).map_batches(_stage_counts, batch_format="pyarrow").take_all()
    totals = {key: sum(row[key] for row in counts) for key in counts[0]}
    return {"rows": rows, "wall": wall, "peak": memory.peak, "timings": run.timings, **totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 2_000_000])
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--rows-per-block", type=int, default=10_000)
    parser.add_argument("--keep-output", action="store_true")
    parser.add_argument("--single-task-rows", type=int, default=None,
                        help="override dedup.single_task_rows (0: every step as shuffles, as above 100,000 rows)")
    parser.add_argument("--quick", action="store_true", help="20,000 and 40,000 rows")
    args = parser.parse_args()
    if args.quick:
        args.rows = [20_000, 40_000]

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    print(f"local Ray, {args.cpus} CPUs; sizes {args.rows}; ~1 KB documents, 10% planted exact and 10% near "
          f"duplicates; single_task_rows {'default' if args.single_task_rows is None else args.single_task_rows}")
    time.sleep(2)
    idle = _tree_pss_bytes(os.getpid())
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="sftforge-dedup-scale-"))
    try:
        # Warm-up, not reported: worker processes started and modules imported before the timed runs.
        run_once(ray, 20_000, 4, workdir / "warm-up", 0)
        shutil.rmtree(workdir / "warm-up", ignore_errors=True)
        for rows in args.rows:
            output = workdir / f"out-{rows}"
            result = run_once(ray, rows, max(2, rows // args.rows_per_block), output, args.single_task_rows)
            results.append(result)
            planted = rows // 10 + (1 if rows % 10 > 3 else 0), rows // 10 + (1 if rows % 10 > 6 else 0)
            print(
                f"{rows:>10,} rows: {result['wall']:8.1f} s wall, {rows / result['wall']:8,.0f} rows/s, "
                f"peak memory {result['peak'] / 2**30:.2f} GiB (idle Ray {idle / 2**30:.2f} GiB); "
                f"rows out {result['rows']:,}; dropped exact {result['exact']:,} (planted {planted[0]:,}), "
                f"near {result['near']:,} (planted {planted[1]:,})"
            )
            print(f"            seconds per step: {result['timings']}")
            if not args.keep_output:
                shutil.rmtree(output, ignore_errors=True)
        first = results[0]
        for result in results[1:]:
            print(f"time ratio {result['rows']:,} / {first['rows']:,} rows: {result['wall'] / first['wall']:.2f} "
                  f"(rows ratio {result['rows'] / first['rows']:.1f})")
    finally:
        if not args.keep_output:
            shutil.rmtree(workdir, ignore_errors=True)
        ray.shutdown()


if __name__ == "__main__":
    main()
